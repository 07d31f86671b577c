"""
Which browser pages may open a WebSocket: the Origin policy (documented in docs/deploy.md).

A handshake is accepted only when its Origin header is
- the same origin as the socket itself: the Origin's host and port equal the request's Host
  header (scheme aside: an https page opens wss), and that host is in ALLOWED_HOSTS; or
- listed exactly (scheme, host and port) in CSRF_TRUSTED_ORIGINS, for a page served elsewhere.

A missing Origin, the opaque origin "null", a foreign host and the same host on another port
are all refused before the socket is accepted. Non-browser clients send the Origin they mean.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _host_port(value: str, scheme: str) -> tuple[str, str]:
    host, port = split_domain_port(value)
    return host, port or DEFAULT_PORTS.get(scheme, "")


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """Apply the policy to one handshake's Origin and Host headers."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return False
    origin_host, origin_port = _host_port(parts.netloc.lower(), parts.scheme)
    trusted = {o.rstrip("/").lower() for o in settings.CSRF_TRUSTED_ORIGINS}
    if f"{parts.scheme}://{parts.netloc.lower()}" in trusted:
        return True
    if not host_header or not validate_host(origin_host, settings.ALLOWED_HOSTS):
        return False
    request_host, request_port = _host_port(host_header.lower(), parts.scheme)
    return (origin_host, origin_port) == (request_host, request_port)


class SameOriginValidator:
    """ASGI middleware: refuse WebSocket handshakes whose Origin fails `origin_allowed`."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers", []))
            origin = headers.get(b"origin", b"").decode("latin-1") or None
            host = headers.get(b"host", b"").decode("latin-1") or None
            if not origin_allowed(origin, host):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
