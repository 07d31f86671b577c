"""
The HTTP transport's streams: server-sent events carrying a note's messages to a client
(`NoteStream`), or a user's notes-list events (`ListStream`). Grammar: docs/protocol.md.

A note stream opens an HttpSession (realtime.transports.http.sessions), admits the client
exactly as the WebSocket consumer does (same session cookie, same checks, same close codes),
and then writes whatever the engine sends the session until the client goes or the session
ends. A stream that drops is reopened with Last-Event-ID and resumes where it stopped.
"""

import asyncio
import contextlib
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from realtime.hub import get_hub
from realtime.peer import CLOSE_NOT_LOGGED_IN, CLOSE_SERVER_ERROR, new_peer_id
from realtime.session import PeerSession
from realtime.transports import admission
from realtime.transports.http import relay, wire
from realtime.transports.http.asgi import (
    Disconnected,
    fetched_from_elsewhere,
    headers_of,
    read_body,
    respond,
    start_event_stream,
    wait_for_disconnect,
)
from realtime.transports.http.sessions import HttpSession, get_sessions
from realtime.transports.sessions import session_user

logger = logging.getLogger("realtime.http")

CLOSE_SESSION_GONE = 4000  # HTTP only: the session is not here; open a new one and resync
SESSION_GONE_REASON = "The HTTP session is gone; resyncing"

_note_access = database_sync_to_async(admission.note_access)
_session_user = database_sync_to_async(session_user)


async def _refused_by_origin(scope, receive, send) -> dict | None:
    """Read the GET; answer 403 or 405 (and return None) unless it may open a stream."""
    if scope["method"] != "GET":
        await respond(send, 405, {"error": "Use GET"}, headers=[(b"allow", b"GET")])
        return None
    try:
        await read_body(receive, 0)
    except Disconnected:
        return None
    headers = headers_of(scope)
    if fetched_from_elsewhere(headers):
        await respond(send, 403, {"error": "This page may not open the stream (Origin)"})
        return None
    return headers


async def _finish(send, last: bytes) -> None:
    await send({"type": "http.response.body", "body": last, "more_body": False})


class NoteStream:
    """GET /http/notes/<id>/stream[?acks=1]: one client's view of one note."""

    async def __call__(self, scope, receive, send):
        headers = await _refused_by_origin(scope, receive, send)
        if headers is None:
            return
        note_id = scope["url_route"]["kwargs"]["note_id"]
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        await start_event_stream(send)
        await send({"type": "http.response.body", "body": wire.RETRY, "more_body": True})
        resume = wire.parse_last_event_id(headers.get("last-event-id"))
        if resume is not None:
            session = get_sessions().get(resume[0])
            if (
                session is None
                or session.note_id != note_id
                or not session.owned_by(session_key)
                or not session.can_resume(resume[1])
            ):
                return await _finish(
                    send, wire.close_event(CLOSE_SESSION_GONE, SESSION_GONE_REASON)
                )
            session.rewind(resume[1])
        else:
            session = await self._open(scope, send, note_id)
            if session is None:
                return
        await _pump_until_gone(session, receive, send)

    async def _open(self, scope, send, note_id) -> HttpSession | None:
        """Admit the client as the WebSocket consumer does, and join it to the note."""
        user, role = await _note_access(session=scope["session"], note_id=note_id)
        hub = get_hub()
        refusal = admission.refusal_for(hub=hub, user=user, role=role, note_id=note_id)
        if refusal is not None:
            await _finish(send, wire.close_event(refusal.code, refusal.reason))
            return None
        await relay.install(hub)  # POSTs for this session may arrive through another process
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session = HttpSession(
            token=wire.new_token(hub.hub_id),
            note_id=note_id,
            session_key=getattr(scope["session"], "session_key", None),
        )
        peer = admission.new_peer(
            note_id=note_id,
            user=user,
            role=role,
            session=scope["session"],
            wants_acks=query.get("acks") == ["1"],
            link=session,
        )
        session.peer_session = PeerSession(hub=hub, peer=peer)
        get_sessions().add(session)
        try:
            await session.peer_session.join()
        except Exception:
            logger.exception("http join failed", extra={"note": str(note_id)})
            await session.close_with(CLOSE_SERVER_ERROR, "The note could not be loaded")
        return session


async def _pump_until_gone(session: HttpSession, receive, send) -> None:
    """Write the session to this stream until the client goes, the session ends, or a newer
    stream takes it over."""
    stream = session.attach()
    try:
        outcome = await _write_until_disconnect(_write(session, stream, send), receive)
    finally:
        session.detach(stream)
    if outcome is True:
        await get_sessions().end(session, "closed")  # the client has its close event
    elif outcome is False:
        await _finish(send, b"")  # replaced by a newer stream, or dropped


_DISCONNECTED = object()


async def _write_until_disconnect(writing, receive):
    """Run a stream's writer until it returns (its result) or the client goes (_DISCONNECTED,
    the writer cancelled). A writer that fails counts as the client gone."""
    writer = asyncio.create_task(writing)
    watcher = asyncio.create_task(wait_for_disconnect(receive))
    try:
        await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (writer, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if writer.cancelled() or writer.exception() is not None:
        return _DISCONNECTED
    return writer.result()


async def _write(session: HttpSession, stream: int, send) -> bool:
    """The stream's writer. True once it has written the session's close event."""
    keepalive = settings.NOTES_HTTP_KEEPALIVE
    first = wire.session_event(session.token, keepalive)
    await send({"type": "http.response.body", "body": first, "more_body": True})
    session.last_write = time.monotonic()
    while session.stream == stream and not session.gone:
        session.wake.clear()
        chunk = session.unwritten()
        if not chunk and session.keepalive_due:
            chunk = wire.KEEPALIVE
        session.keepalive_due = False
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            session.last_write = time.monotonic()
        if session.ending is not None and session.written >= session.seq:
            await _finish(send, session.ending)
            return True
        await session.wake.wait()
    return False


class ListStream:
    """GET /http/notes/list: a user's notes-list events (realtime.listfeed), as on ws/notes/."""

    QUEUE_LIMIT = 1000  # events a client that stopped reading may leave waiting

    async def __call__(self, scope, receive, send):
        if await _refused_by_origin(scope, receive, send) is None:
            return
        user = await _session_user(scope["session"])
        await start_event_stream(send)
        if not user.is_authenticated:
            return await _finish(
                send, wire.close_event(CLOSE_NOT_LOGGED_IN, "Log in to see your notes")
            )
        listener = _ListListener(user.pk)
        hub = get_hub()
        await hub.list_join(listener)
        try:
            outcome = await _write_until_disconnect(listener.write(send), receive)
        finally:
            await hub.list_leave(listener)
        if outcome is not _DISCONNECTED:
            await _finish(send, b"")  # dropped: the list reconnects


class _ListListener:
    """A realtime.listfeed.ListPeer whose events wait for the stream's writer."""

    def __init__(self, user_id: int) -> None:
        self.peer_id = new_peer_id()
        self.user_id = user_id
        self.waiting: list[bytes] = []
        self.wake = asyncio.Event()
        self.dropped = False

    async def send_event(self, event: dict) -> None:
        if len(self.waiting) >= ListStream.QUEUE_LIMIT:
            self.dropped = True  # not reading: end the stream; the list reconnects
        else:
            self.waiting.append(wire.json_event(event))
        self.wake.set()

    async def write(self, send) -> None:
        keepalive = settings.NOTES_HTTP_KEEPALIVE
        await send({"type": "http.response.body", "body": wire.RETRY, "more_body": True})
        while not self.dropped:
            self.wake.clear()
            chunk, self.waiting = b"".join(self.waiting), []
            await send(
                {"type": "http.response.body", "body": chunk or wire.KEEPALIVE, "more_body": True}
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), keepalive)
