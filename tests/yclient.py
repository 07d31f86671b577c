"""
A Yjs client for tests: a pycrdt document speaking the wire protocol through the real ASGI
app (Channels' WebsocketCommunicator), with session cookie and Origin like a browser.
"""

import asyncio

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from pycrdt import Text

from notes import documents
from realtime import protocol

ORIGIN = b"http://127.0.0.1"


def login_session_key(user) -> str:
    """Log `user` in as a browser would and return the session key its cookie holds."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


session_cookie = sync_to_async(login_session_key)


class YClient:
    def __init__(
        self, application, note_id, *, cookie=None, origin=ORIGIN, acks=True, host=b"127.0.0.1"
    ):
        headers = [(b"host", host)]
        if origin:
            headers.append((b"origin", origin))
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = f"/ws/notes/{note_id}/" + ("?acks=1" if acks else "")
        self.comm = WebsocketCommunicator(application, path, headers=headers)
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

    @property
    def text(self) -> str:
        return documents.doc_text(self.doc)

    async def connect(self) -> bool:
        connected, _ = await self.comm.connect()
        if connected:
            await self.send(protocol.encode_sync_step1(self.doc.get_state()))
        return connected

    async def send(self, frame: bytes) -> None:
        await self.comm.send_to(bytes_data=frame)

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
            # receive_output() cancels the application when it times out, so wait politely.
            if await self.comm.receive_nothing(timeout=0.02, interval=0.005):
                continue
            event = await self.comm.receive_output()
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

    async def close(self) -> None:
        await self.comm.disconnect()
