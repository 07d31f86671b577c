"""
Yjs clients for tests: a pycrdt document speaking the wire protocol like a stock client.

`YClient` goes through the real ASGI app (Channels' WebsocketCommunicator), with session cookie
and Origin like a browser. `EngineClient` is a transport of its own: it hands frames straight to
the room engine through realtime.session and realtime.peer, as any second transport would.
"""

import asyncio
import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from pycrdt import Text

from notes import documents
from realtime import protocol
from realtime.peer import Peer
from realtime.session import PeerSession

ORIGIN = b"http://127.0.0.1"


def login_session_key(user) -> str:
    """Log `user` in as a browser would and return the session key its cookie holds."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


session_cookie = sync_to_async(login_session_key)


class YReplica:
    """A replica of a note that speaks the protocol; subclasses carry its frames."""

    def __init__(self):
        self.doc = documents.doc_new()
        self.saved = 0
        self.role: int | None = None  # from the server's access message
        self.sent = 0  # document messages sent (updates and step 2 replies)
        self.updates_received = 0
        self.awareness: dict[int, str] = {}
        self.awareness_clock: dict[int, int] = {}
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.frames: list[bytes] = []
        self.chat: list[dict] = []  # chat events, decoded
        self.comments: list[dict] = []  # comment-thread events, decoded

    @property
    def text(self) -> str:
        return documents.doc_text(self.doc)

    async def send(self, frame: bytes) -> None:
        raise NotImplementedError

    async def next_event(self, timeout: float) -> dict | None:  # noqa: ASYNC109
        """The next thing the server sent within `timeout`, as an ASGI-like event, or None."""
        raise NotImplementedError

    async def edit(self, fn) -> bytes:
        update = documents.edit_update(self.doc, fn)
        await self.send(protocol.encode_sync_update(update))
        self.sent += 1
        return update

    async def insert(self, index: int, chunk: str) -> bytes:
        def do(doc):
            text = doc.get(documents.CONTENT, type=Text)
            text.insert(len(str(text)[:index].encode()), chunk)

        return await self.edit(do)

    async def append(self, chunk: str) -> bytes:
        return await self.edit(lambda doc: documents.text_append(doc, chunk))

    async def set_awareness(self, client_id: int, clock: int, state: str) -> None:
        payload = protocol.encode_awareness_payload(
            [protocol.AwarenessEntry(client_id, clock, state)]
        )
        await self.send(protocol.encode_awareness(payload))

    def handle(self, frame: bytes) -> None:
        self.frames.append(frame)
        if frame[0] == protocol.MSG_SAVED:
            self.saved = protocol.decode_saved(frame)
            return
        if frame[0] == protocol.MSG_ACCESS:
            self.role = protocol.decode_access(frame)
            return
        if frame[0] == protocol.MSG_CHAT:
            self.chat.append(json.loads(protocol.decode_chat(frame)))
            return
        if frame[0] == protocol.MSG_COMMENTS:
            self.comments.append(json.loads(protocol.decode_comments(frame)))
            return
        message = protocol.decode_message(frame)
        match message:
            case protocol.SyncStep1(state_vector):
                # Answer like a stock client, without waiting.
                reply = protocol.encode_sync_step2(self.doc.get_update(state_vector))
                self.sent += 1  # the server counts step 2 like an update
                asyncio.get_running_loop().create_task(self.send(reply))
            case protocol.SyncStep2(update) | protocol.SyncUpdate(update):
                self.updates_received += 1
                self.doc.apply_update(update)
            case protocol.Awareness(payload):
                # The rules of y-protocols' applyAwarenessUpdate: only a newer clock counts.
                for entry in protocol.decode_awareness_payload(payload):
                    known = self.awareness_clock.get(entry.client_id, -1)
                    newer = entry.clock > known or (
                        entry.clock == known and entry.gone and entry.client_id in self.awareness
                    )
                    if not newer:
                        continue
                    self.awareness_clock[entry.client_id] = entry.clock
                    if entry.gone:
                        self.awareness.pop(entry.client_id, None)
                    else:
                        self.awareness[entry.client_id] = entry.state

    async def pump(self, seconds: float = 0.2) -> None:
        """Handle everything that arrives within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            event = await self.next_event(0.02)
            if event is None:
                continue
            if event["type"] == "websocket.close":
                self.close_code = event.get("code")
                self.close_reason = event.get("reason")
                return
            if event.get("bytes") is not None:
                self.handle(event["bytes"])

    async def until(self, predicate, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline or self.close_code is not None:
                return predicate()
            await self.pump(0.05)
        return True


class YClient(YReplica):
    """Through the ASGI app's WebSocket route, like a browser tab."""

    def __init__(
        self, application, note_id, *, cookie=None, origin=ORIGIN, acks=True, host=b"127.0.0.1"
    ):
        super().__init__()
        headers = [(b"host", host)]
        if origin:
            headers.append((b"origin", origin))
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = f"/ws/notes/{note_id}/" + ("?acks=1" if acks else "")
        self.comm = WebsocketCommunicator(application, path, headers=headers)

    async def connect(self) -> bool:
        connected, _ = await self.comm.connect()
        if connected:
            await self.send(protocol.encode_sync_step1(self.doc.get_state()))
        return connected

    async def send(self, frame: bytes) -> None:
        await self.comm.send_to(bytes_data=frame)

    async def next_event(self, timeout: float) -> dict | None:  # noqa: ASYNC109
        # receive_output() cancels the application when it times out, so wait politely.
        if await self.comm.receive_nothing(timeout=timeout, interval=0.005):
            return None
        return await self.comm.receive_output()

    async def close(self) -> None:
        await self.comm.disconnect()


class EngineClient(YReplica):
    """A transport of its own over the room engine: it is the peer's realtime.peer.Link, and
    hands every frame it sends to a realtime.session.PeerSession."""

    def __init__(self, hub, *, note_id, user, role, acks=True, session_key=None):
        super().__init__()
        self.peer = Peer(
            note_id=note_id,
            user_id=user.pk,
            user_name=user.get_username(),
            session_key=session_key,
            role=role,
            wants_acks=acks,
            link=self,
        )
        self.session = PeerSession(hub=hub, peer=self.peer)
        self.events: asyncio.Queue[dict] = asyncio.Queue()

    async def connect(self) -> None:
        await self.session.join()
        await self.send(protocol.encode_sync_step1(self.doc.get_state()))

    async def send(self, frame: bytes | None) -> None:
        await self.session.receive(frame)

    async def next_event(self, timeout: float) -> dict | None:  # noqa: ASYNC109
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        await self.session.leave()

    # --- realtime.peer.Link ---

    async def send_frame(self, frame: bytes) -> None:
        self.events.put_nowait({"type": "websocket.send", "bytes": frame})

    async def close_with(self, code: int, reason: str) -> None:
        self.events.put_nowait({"type": "websocket.close", "code": code, "reason": reason})
