"""
POST /http/notes/<id>/send: a client's messages to the note, over plain HTTP.

Checked as any Django form POST is (CSRF token and Origin, by Django's own CsrfViewMiddleware),
then handed to the session it names: here when this process holds it, otherwise forwarded to
the process that does (realtime.transports.http.relay). No database work: the session was
admitted when its stream opened, and a POST must come from that same login.
"""

import io
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware

from realtime.hub import get_hub
from realtime.transports.http import relay, wire
from realtime.transports.http.asgi import Disconnected, read_body, respond
from realtime.transports.http.sessions import Answer, get_sessions

logger = logging.getLogger("realtime.http")

_csrf = CsrfViewMiddleware(lambda request: None)

CSRF_REFUSED = (
    "CSRF check failed: send the csrftoken cookie's token in X-CSRFToken, from a page of this site"
)


def _view(request):  # what CsrfViewMiddleware checks against: a plain, protected view
    return None


# The CSRF check reads only these of a POST (and settings): a client's every POST sends the
# same, so one that passed is not checked again. Bounded; refusals are never kept.
_CSRF_INPUTS = (
    b"cookie",
    b"x-csrftoken",
    b"origin",
    b"referer",
    b"host",
    b"x-forwarded-host",
    b"x-forwarded-proto",
)
_CSRF_PASSED: set[tuple] = set()
_CSRF_PASSED_MAX = 10000


def csrf_refusal(scope) -> str | None:
    """Why Django's CSRF protection refuses this request (token, Origin, Referer), or None."""
    headers = dict(scope["headers"])
    key = (scope.get("scheme"), *(headers.get(name) for name in _CSRF_INPUTS))
    if key in _CSRF_PASSED:
        return None
    request = ASGIRequest(scope, io.BytesIO(b""))
    try:
        refused = _csrf.process_view(request, _view, (), {}) is not None
    except DisallowedHost as exc:
        return str(exc)
    if refused:
        return CSRF_REFUSED
    if len(_CSRF_PASSED) >= _CSRF_PASSED_MAX:
        _CSRF_PASSED.clear()
    _CSRF_PASSED.add(key)
    return None


def _number(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 15:
        return None
    return int(value)


class NoteSend:
    """The POST endpoint. Answers as docs/protocol.md's table says."""

    async def __call__(self, scope, receive, send):
        if scope["method"] != "POST":
            return await respond(send, 405, {"error": "Use POST"}, headers=[(b"allow", b"POST")])
        try:
            body = await read_body(receive, settings.NOTES_MAX_MESSAGE_BYTES)
        except Disconnected:
            return
        answer = await self._answer(scope, body)
        await respond(send, answer.status, answer.body)

    async def _answer(self, scope, body: bytes | None) -> Answer:
        refusal = csrf_refusal(scope)
        if refusal is not None:
            return Answer(403, {"error": refusal})
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = headers.get("x-notes-session", "")
        holder = wire.token_holder(token)
        seq = _number(headers.get("x-notes-seq"))
        received = headers.get("x-notes-received")
        if holder is None or seq is None or seq < 1:
            return Answer(400, {"error": "X-Notes-Session and X-Notes-Seq are required"})
        if received is not None and _number(received) is None:
            return Answer(400, {"error": "X-Notes-Received must be a number"})
        request = {
            "token": token,
            "note_id": scope["url_route"]["kwargs"]["note_id"],
            "session_key": scope["cookies"].get(settings.SESSION_COOKIE_NAME),
            "seq": seq,
            "received": _number(received) if received is not None else None,
            "body": body,
            "end": headers.get("x-notes-end") == "1",
        }
        hub = get_hub()
        if holder == hub.hub_id:
            return await get_sessions().deliver(**request)
        return await relay.forward(hub, holder, request)
