"""
HTTP sessions: one client's conversation with a note over plain HTTP (docs/protocol.md, "The
HTTP transport"), held by the process that opened its stream.

An `HttpSession` is the engine's realtime.peer.Link for that client. What the engine sends
waits in the session, numbered, until the client's stream writes it and the client says (in a
POST's X-Notes-Received) that it has it: a dropped stream resumes from any point the client
has not acknowledged. What the client POSTs goes, batch by batch and in order, to the session's
realtime.session.PeerSession, exactly as WebSocket frames do.

Bounded: past NOTES_HTTP_QUEUE_BYTES unacknowledged, the client is not reading and is dropped;
a session with no stream and no POST for NOTES_HTTP_SESSION_TTL expires. Either way it leaves
the note at once, so its presence goes at once.
"""

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare

from realtime.peer import CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG
from realtime.session import PeerSession
from realtime.transports.http import wire

logger = logging.getLogger("realtime.http")

_stream_ids = itertools.count(1)


@dataclass(frozen=True)
class Answer:
    """What a POST gets back: a status, and for an error or a close, a JSON body."""

    status: int
    body: dict | None = None


ACCEPTED = Answer(204)
NO_SUCH_SESSION = Answer(404, {"error": "No such HTTP session: open a new stream"})


class HttpSession:
    """One client on one note over HTTP. The engine's Link; the transport's buffer."""

    def __init__(self, *, token: str, note_id: uuid.UUID, session_key: str | None) -> None:
        self.token = token
        self.note_id = note_id
        self.session_key = session_key  # the Django session that opened it; POSTs must match
        self.peer_session: PeerSession | None = None
        self.events: deque[tuple[int, bytes]] = deque()  # (seq, event) not yet acknowledged
        self.buffered = 0  # bytes in `events`
        self.seq = 0  # the last message's number
        self.written = 0  # the last number written to the current stream
        self.acked = 0  # the client has everything up to here
        self.posted = 0  # the last POST (X-Notes-Seq) applied
        self.post_lock = asyncio.Lock()
        self.wake = asyncio.Event()  # something for the stream to write
        self.stream = 0  # the id of the stream writing this session, 0 for none
        self.keepalive_due = False
        self.ending: bytes | None = None  # the close event, once the engine closed us
        self.close: dict | None = None  # that close as a POST answer's body
        self.gone = False  # ended: out of the registry, left the note
        self.seen = time.monotonic()  # the last stream or POST activity
        self.last_write = self.seen

    # --- realtime.peer.Link: called by the engine ------------------------------------------

    async def send_frame(self, frame: bytes) -> None:
        if self.ending is not None or self.gone:
            return
        self.seq += 1
        event = wire.message_event(self.token, self.seq, frame)
        self.events.append((self.seq, event))
        self.buffered += len(event)
        self.wake.set()
        if self.buffered > settings.NOTES_HTTP_QUEUE_BYTES and len(self.events) > 1:
            self.over_limit()

    async def close_with(self, code: int, reason: str) -> None:
        if self.ending is None and not self.gone:
            self.ending = wire.close_event(code, reason)
            self.close = {"code": code, "reason": reason}
            self.wake.set()

    over_limit = staticmethod(lambda: None)  # set by the registry: drop this session

    # --- the stream's side ------------------------------------------------------------------

    def attach(self) -> int:
        """A stream takes over writing this session (a newer one replaces an older one)."""
        self.stream = next(_stream_ids)
        self.seen = time.monotonic()
        self.wake.set()  # wakes an older stream's writer, which sees it was replaced
        return self.stream

    def detach(self, stream: int) -> None:
        if self.stream == stream:
            self.stream = 0
            self.seen = time.monotonic()

    def can_resume(self, seq: int) -> bool:
        """Whether every message after `seq` is still here to send again."""
        return not self.gone and self.acked <= seq <= self.written

    def rewind(self, seq: int) -> None:
        """A resuming stream has everything up to `seq`: write from there."""
        self.acknowledge(seq)
        self.written = seq

    def unwritten(self) -> bytes:
        """The events the current stream has not written yet, marked written."""
        if self.written >= self.seq:
            return b""
        start = max(0, self.written + 1 - self.events[0][0]) if self.events else 0
        chunk = b"".join(event for _, event in itertools.islice(self.events, start, None))
        self.written = self.seq
        return chunk

    def acknowledge(self, seq: int) -> None:
        """The client has processed every message up to `seq`: forget them. (It cannot have
        processed what no stream has written yet.)"""
        seq = min(seq, self.written)
        while self.events and self.events[0][0] <= seq:
            self.buffered -= len(self.events.popleft()[1])
        self.acked = max(self.acked, seq)

    def owned_by(self, session_key: str | None) -> bool:
        return bool(session_key and self.session_key) and constant_time_compare(
            session_key, self.session_key
        )


class HttpSessions:
    """This process's HTTP sessions, by name; expires the idle and drops the unread."""

    def __init__(self) -> None:
        self.sessions: dict[str, HttpSession] = {}
        self._sweeper: asyncio.Task | None = None

    def add(self, session: HttpSession) -> None:
        self.sessions[session.token] = session
        session.over_limit = lambda: asyncio.get_running_loop().create_task(
            self.end(session, "not reading")
        )
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="http-sessions")

    def get(self, token: str) -> HttpSession | None:
        return self.sessions.get(token)

    async def end(self, session: HttpSession, why: str) -> None:
        """The session is over: forget it, and leave the note (presence goes at once)."""
        if session.gone:
            return
        session.gone = True
        self.sessions.pop(session.token, None)
        session.events.clear()
        session.buffered = 0
        session.wake.set()  # its stream, if any, ends
        logger.info("http session ended", extra={"note": str(session.note_id), "why": why})
        if session.peer_session is not None:
            await session.peer_session.leave()

    async def deliver(
        self,
        *,
        token: str,
        note_id: uuid.UUID,
        session_key: str | None,
        seq: int,
        received: int | None,
        body: bytes | None,
        end: bool,
    ) -> Answer:
        """Apply one POST to the session it names (on the process holding it)."""
        session = self.sessions.get(token)
        if session is None or session.note_id != note_id:
            return NO_SUCH_SESSION
        if not session.owned_by(session_key):
            return Answer(403, {"error": "This HTTP session belongs to another login"})
        async with session.post_lock:
            session.seen = time.monotonic()
            if received is not None:
                session.acknowledge(received)
            if seq <= session.posted:
                return ACCEPTED  # a retry of a batch already applied
            if seq != session.posted + 1:
                return Answer(400, {"error": f"X-Notes-Seq {seq} skips {session.posted + 1}"})
            session.posted = seq
            answer = await self._apply(session, body)
            if end and not session.gone:
                await self.end(session, "ended by the client")
            return answer

    async def _apply(self, session: HttpSession, body: bytes | None) -> Answer:
        peer_session = session.peer_session
        if session.ending is not None or peer_session is None:
            return Answer(410, session.close)
        limit = settings.NOTES_MAX_MESSAGE_BYTES
        if body is None:  # the transport stopped reading it past the limit
            reason = f"A request body exceeds the limit of {limit} bytes"
            await peer_session.close(CLOSE_TOO_BIG, reason)
            return Answer(413, {"error": reason, "code": CLOSE_TOO_BIG, "reason": reason})
        try:
            frames = wire.split_body(body)
        except wire.BadBody as exc:
            await peer_session.close(CLOSE_PROTOCOL_ERROR, f"Protocol error: {exc}")
            return Answer(400, {"error": str(exc), **session.close})
        for frame in frames:
            await peer_session.receive(frame)
            if session.ending is not None:
                return Answer(410, session.close)
        return ACCEPTED

    async def _sweep(self) -> None:
        """About once a second: keepalives for quiet streams, expiry for forgotten sessions.
        Stops when no session is left (the next one starts it again)."""
        keepalive = settings.NOTES_HTTP_KEEPALIVE
        ttl = settings.NOTES_HTTP_SESSION_TTL
        period = min(1.0, keepalive / 2, ttl / 2)
        while self.sessions:
            await asyncio.sleep(period)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.stream:
                    # Before the next sweep would be late: never more than `keepalive` silent.
                    if now + period - session.last_write >= keepalive:
                        session.keepalive_due = True
                        session.wake.set()
                elif now - session.seen >= ttl:
                    await self.end(session, "expired")


_registry: HttpSessions | None = None
_registry_loop: asyncio.AbstractEventLoop | None = None


def get_sessions() -> HttpSessions:
    """This process's HTTP sessions (one registry per event loop, as realtime.hub.get_hub)."""
    global _registry, _registry_loop
    loop = asyncio.get_running_loop()
    if _registry is None or _registry_loop is not loop:
        _registry, _registry_loop = HttpSessions(), loop
    return _registry
