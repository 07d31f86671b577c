"""
The WebSocket transport: consumers that check access at connect and translate between frames
and the room engine. No ORM work beyond the access check, no document logic.

A note socket is a realtime.peer.Link: the engine sends it frames and closes it. Everything
it receives goes to its realtime.session.PeerSession.
"""

import json
import logging
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from realtime.hub import get_hub
from realtime.peer import CLOSE_NOT_LOGGED_IN, CLOSE_PROTOCOL_ERROR, new_peer_id
from realtime.session import PeerSession
from realtime.transports import admission
from realtime.transports.sessions import session_user
from realtime.tuning import SEND_BINARY, speedups_enabled

logger = logging.getLogger("realtime.websocket")

# database_sync_to_async closes stale database connections first, as Channels' dispatch would.
_note_access = database_sync_to_async(admission.note_access)
_session_user = database_sync_to_async(session_user)

# WebSocket close reasons are at most 123 bytes of UTF-8.
MAX_CLOSE_REASON = 120


class NoteConsumer(AsyncWebsocketConsumer):
    """One browser tab (or any Yjs client) editing one note at ws/notes/<id>/."""

    # The hub does all fan-out; a socket needs no channel of its own. An alias that is not
    # configured makes Channels skip creating one (get_channel_layer returns None).
    channel_layer_alias = "sockets-have-no-channel"
    session: PeerSession | None = None
    send_binary = None  # daphne's direct binary send (realtime.tuning), where installed
    fast_dispatch = False  # set by __call__ when speed-ups are on

    async def __call__(self, scope, receive, send):
        """Called once per connection: dispatch its messages one at a time, in order.

        Channels' loop (await_many_dispatch) waits on the socket and the consumer's channel
        together, with a new task and an asyncio.wait per message: three trips round the event
        loop before a frame reaches receive(). A note socket has no channel, so it simply
        awaits the next message. A speed-up only: with NOTES_SPEEDUPS off, Channels' own loop.
        """
        if not speedups_enabled():
            return await super().__call__(scope, receive, send)
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.fast_dispatch = True
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        """Hand frames straight to receive().

        Channels' dispatch first closes stale database connections, a trip to the database
        thread per message. Frames (the hot path) and disconnects do no database work, and
        connect's access check closes them itself.
        """
        if not self.fast_dispatch:
            return await super().dispatch(message)
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await getattr(self, get_handler_name(message))(message)

    async def connect(self):
        """Called when a WebSocket handshake arrives: check access, then join the note."""
        note_id = self.scope["url_route"]["kwargs"]["note_id"]
        user, role = await _note_access(session=self.scope["session"], note_id=note_id)
        hub = get_hub()
        refusal = admission.refusal_for(hub=hub, user=user, role=role, note_id=note_id)
        if refusal is not None:
            # Accept first: a close before accepting becomes an HTTP 403 and the code is lost.
            await self.accept()
            return await self.close(code=refusal.code, reason=refusal.reason)
        self.send_binary = self.scope.get("extensions", {}).get(SEND_BINARY)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        peer = admission.new_peer(
            note_id=note_id,
            user=user,
            role=role,
            session=self.scope.get("session"),
            wants_acks=query.get("acks") == ["1"],
            link=self,
        )
        self.session = PeerSession(hub=hub, peer=peer)
        await self.accept()
        await self.session.join()

    async def receive(self, text_data=None, bytes_data=None):
        """Called for each frame from the client."""
        if self.session is not None:
            await self.session.receive(bytes_data)

    async def disconnect(self, code):
        """Called when the socket closes (not on SIGTERM: see docs/architecture.md)."""
        if self.session is not None:
            await self.session.leave()

    # --- realtime.peer.Link ---

    async def send_frame(self, frame: bytes) -> None:
        if self.send_binary is None or not self.send_binary(frame):
            await self.send(bytes_data=frame)

    async def close_with(self, code: int, reason: str) -> None:
        await self.close(code=code, reason=reason[:MAX_CLOSE_REASON])


class NotesListConsumer(AsyncWebsocketConsumer):
    """A user's notes list at ws/notes/: JSON events as their notes appear, change, go, and
    as people start and stop editing them (realtime.listfeed). Server to client only."""

    channel_layer_alias = NoteConsumer.channel_layer_alias

    async def connect(self):
        """Called when the list page opens its socket."""
        self.joined = False
        self.peer_id = new_peer_id()
        user = await _session_user(self.scope["session"])
        await self.accept()
        if not user.is_authenticated:
            return await self.close(code=CLOSE_NOT_LOGGED_IN, reason="Log in to see your notes")
        self.user_id = user.pk
        await get_hub().list_join(self)
        self.joined = True

    async def receive(self, text_data=None, bytes_data=None):
        """Clients have nothing to say on this socket."""
        await self.close(code=CLOSE_PROTOCOL_ERROR, reason="This socket only sends")

    async def disconnect(self, code):
        if self.joined:
            self.joined = False
            await get_hub().list_leave(self)

    async def send_event(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event))
