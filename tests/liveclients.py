"""
Yjs clients against a live daphne (tests/live.py), both tests.yclient.YReplicas, so a test
drives them alike: `WsYClient` over a real WebSocket, and `HttpYClient` over the HTTP transport
(docs/protocol.md, "The HTTP transport"): a server-sent-events stream in, one POST at a time out.
"""

import asyncio
import base64
import contextlib
import json
import secrets

import httpx
import websockets

from realtime import protocol
from realtime.transports.http import wire
from tests.yclient import YReplica


def csrf_secret() -> str:
    """A CSRF cookie value Django accepts: 32 letters and digits (its unmasked secret, which
    also passes as the X-CSRFToken header)."""
    return secrets.token_hex(16)


class WsYClient(YReplica):
    """A replica of a note over a real WebSocket."""

    def __init__(self, server, note_id, *, cookie, acks=True, tls=None):
        """`tls`: an ssl.SSLContext for a wss:// server."""
        super().__init__()
        self.url = f"{server.ws_url}/ws/notes/{note_id}/" + ("?acks=1" if acks else "")
        self.headers = {"Origin": server.http_url, "Cookie": f"sessionid={cookie}"}
        self.tls = tls
        self.ws = None

    async def connect(self) -> bool:
        options = {"ssl": self.tls} if self.tls is not None else {}
        self.ws = await websockets.connect(
            self.url, additional_headers=self.headers, proxy=None, **options
        )
        await self.send(protocol.encode_sync_step1(self.doc.get_state()))
        return True

    async def send(self, frame: bytes) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(frame)

    async def next_event(self, timeout: float) -> dict | None:  # noqa: ASYNC109
        try:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            return None
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            reason = closed.rcvd.reason if closed.rcvd else None
            return {"type": "websocket.close", "code": code, "reason": reason}
        return {"type": "websocket.receive", "bytes": frame}

    async def close(self) -> None:
        await self.ws.close()


class Stream:
    """One server-sent-events response, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self) -> dict | None:
        """The next event as {"event", "id", "data"}; a comment as {"comment"}; None at the end."""
        event: dict = {}
        async for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            field, _, value = line.partition(":")
            event[field] = value[1:] if value.startswith(" ") else value
        return event or None


class HttpYClient(YReplica):
    """A replica of a note over the HTTP transport."""

    def __init__(
        self,
        server,
        note_id,
        *,
        cookie,
        acks=True,
        origin=True,
        csrf: str | None = None,
        post_to=None,
        tls=None,
    ):
        """`post_to`: another server (process) to send POSTs through; by default `server`.
        `tls`: an ssl.SSLContext for an https:// server."""
        super().__init__()
        self.server = server
        self.post_url = (post_to or server).http_url
        self.note_id = note_id
        self.csrf = csrf or csrf_secret()
        cookies = {"csrftoken": self.csrf}
        if cookie:
            cookies["sessionid"] = cookie
        # A browser sends Origin with a POST, and none with a same-origin GET.
        self.origin = self.post_url if origin else None
        self.http = httpx.AsyncClient(
            base_url=server.http_url, cookies=cookies, timeout=30, verify=tls or True
        )
        self.acks = acks
        self.session: str | None = None
        self.last_id: str | None = None  # the last event id processed (for Last-Event-ID)
        self.seq = 0  # POSTs sent
        self.answers: list[httpx.Response] = []
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.comments: list[str] = []
        self.event_ids: list[str] = []  # every message event's id, in arrival order
        self._post_lock = asyncio.Lock()
        self._reader: asyncio.Task | None = None
        self._stream_cm = None

    @property
    def base(self) -> str:
        return f"/http/notes/{self.note_id}"

    async def open_stream(self, last_event_id: str | None = None) -> dict | None:
        """Open (or resume) the stream; return its first event (session, or close)."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        query = "?acks=1" if self.acks else ""
        self._stream_cm = self.http.stream("GET", f"{self.base}/stream{query}", headers=headers)
        response = await self._stream_cm.__aenter__()
        self.status = response.status_code
        if response.status_code != 200:
            await self._stream_cm.__aexit__(None, None, None)
            self._stream_cm = None
            return None
        stream = Stream(response)
        first = await stream.next()
        while first is not None and ("retry" in first and "event" not in first):
            first = await stream.next()
        if first is not None and first.get("event") == "session":
            self.session = json.loads(first["data"])["session"]
            self._reader = asyncio.get_running_loop().create_task(self._read(stream))
        elif first is not None and first.get("event") == "close":
            self._closed(json.loads(first["data"]))
        return first

    async def connect(self) -> bool:
        first = await self.open_stream()
        if first is None or first.get("event") != "session":
            return False
        await self.send(protocol.encode_sync_step1(self.doc.get_state()))
        return True

    async def _read(self, stream: Stream) -> None:
        while (event := await stream.next()) is not None:
            if "comment" in event:
                self.comments.append(event["comment"])
            elif event.get("event") == "close":
                await self.events.put({"type": "close", **json.loads(event["data"])})
                return
            elif "data" in event and "event" not in event:
                self.last_id = event.get("id")
                self.event_ids.append(self.last_id)
                await self.events.put({"type": "frame", "bytes": base64.b64decode(event["data"])})
        await self.events.put({"type": "ended"})

    async def drop_stream(self) -> None:
        """Cut the stream as a flaky network would (the session stays on the server)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._stream_cm is not None:
            with contextlib.suppress(Exception):
                await self._stream_cm.__aexit__(None, None, None)
            self._stream_cm = None

    async def post(
        self, frames: list[bytes], *, seq: int | None = None, headers: dict | None = None
    ) -> httpx.Response:
        """One POST of `frames` (the next seq unless given)."""
        async with self._post_lock:
            if seq is None:
                self.seq += 1
                seq = self.seq
            head = {
                "X-CSRFToken": self.csrf,
                "X-Notes-Session": self.session or "",
                "X-Notes-Seq": str(seq),
                "Content-Type": "application/octet-stream",
            }
            if self.origin:
                head["Origin"] = self.origin
            if self.last_id:
                head["X-Notes-Received"] = self.last_id.rpartition(":")[2]
            head.update(headers or {})
            response = await self.http.post(
                f"{self.post_url}{self.base}/send", content=wire.join_body(frames), headers=head
            )
            self.answers.append(response)
            return response

    async def send(self, frame: bytes) -> None:
        response = await self.post([frame])
        if response.status_code == 410:
            self._closed(response.json())

    def _closed(self, body: dict) -> None:
        if self.close_code is None:
            self.close_code = body.get("code")
            self.close_reason = body.get("reason")

    async def next_event(self, timeout: float) -> dict | None:  # noqa: ASYNC109
        try:
            event = await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None
        if event["type"] == "close":
            return {"type": "websocket.close", "code": event["code"], "reason": event["reason"]}
        if event["type"] == "ended":
            return {"type": "websocket.close", "code": None, "reason": "stream ended"}
        return event

    async def close(self, *, end: bool = True) -> None:
        if end and self.session and self.close_code is None:
            with contextlib.suppress(Exception):
                await self.post([], headers={"X-Notes-End": "1"})
        await self.drop_stream()
        await self.http.aclose()
