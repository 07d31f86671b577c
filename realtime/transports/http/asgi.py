"""
Small ASGI helpers the HTTP transport's endpoints share: headers, reading a request, answering.
"""

import json

from realtime.transports.origins import origin_allowed


class Disconnected(Exception):
    """The client went away before its request was read."""


def headers_of(scope) -> dict[str, str]:
    """The request's headers, lower-cased names, latin-1 values (the last of repeats wins)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def fetched_from_elsewhere(headers: dict[str, str]) -> bool:
    """Whether a browser says another site's page made this request: an Origin that fails the
    WebSocket policy (realtime/transports/origins.py), or, without one, Sec-Fetch-Site.

    A same-origin GET carries no Origin, so a missing one is allowed here: any reader the
    browser would let read a cross-origin answer would have sent its Origin."""
    origin = headers.get("origin")
    if origin is not None:
        return not origin_allowed(origin, headers.get("host"))
    return headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def wait_for_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def respond(send, status: int, body: dict | None = None, headers=()) -> None:
    """A complete answer: JSON when there is a body, nothing otherwise."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = [(b"cache-control", b"no-store"), *headers]
    if payload:
        head.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})


EVENT_STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store, no-transform"),
    # nginx passes the stream through unbuffered when the answer asks (docs/deploy.md).
    (b"x-accel-buffering", b"no"),
]


async def start_event_stream(send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM_HEADERS})
