"""
WebSocket consumers: they check access at connect, decode frames and call the hub.

No ORM work beyond the access check, no document logic: that lives in notes.hub.
"""

import itertools
import json
import logging
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from notes import selectors
from notes.identity import user_display_name
from notes.permissions import Role
from notes.services import NoteTooLarge
from realtime import protocol
from realtime.hub import get_hub
from realtime.limits import TokenBucket
from realtime.transports.sessions import session_user
from realtime.tuning.daphne import SEND_BINARY

logger = logging.getLogger("realtime.websocket")

# Close codes in 4400-4499 are final for y-websocket clients: they stop reconnecting.
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOTE_TOO_LARGE = 4413
CLOSE_TOO_MANY = 4429
CLOSE_TOO_BIG = 1009

_peer_ids = itertools.count(1)


@database_sync_to_async
def _note_access(*, session, note_id) -> tuple:
    """The session's user and their role on the note (None: no such note; NONE when not
    logged in), in one trip to the database thread: in a join storm each trip waits behind
    everyone else's, so a joiner makes one. database_sync_to_async closes stale database
    connections first, as Channels' dispatch would."""
    user = session_user(session)
    if not user.is_authenticated:
        return user, Role.NONE
    return user, selectors.note_role_of(note_id=note_id, user=user)


_session_user = database_sync_to_async(session_user)


class NoteConsumer(AsyncWebsocketConsumer):
    """One browser tab (or any Yjs client) editing one note at ws/notes/<id>/."""

    # The hub does all fan-out; a socket needs no channel of its own. An alias that is not
    # configured makes Channels skip creating one (get_channel_layer returns None).
    channel_layer_alias = "sockets-have-no-channel"

    async def __call__(self, scope, receive, send):
        """Called once per connection: dispatch its messages one at a time, in order.

        Channels' loop (await_many_dispatch) waits on the socket and the consumer's channel
        together, with a new task and an asyncio.wait per message: three trips round the event
        loop before a frame reaches receive(). A note socket has no channel, so it simply
        awaits the next message.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        # daphne's direct binary send (collab/daphne_patches.py); absent under other servers.
        self.send_binary = scope.get("extensions", {}).get(SEND_BINARY)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def connect(self):
        """Called when a WebSocket handshake arrives: check access, then join the note."""
        self.joined = False
        self.peer_id = next(_peer_ids)
        self.note_id = self.scope["url_route"]["kwargs"]["note_id"]
        user, role = await _note_access(session=self.scope["session"], note_id=self.note_id)
        self.user_id = user.pk
        if not user.is_authenticated:
            return await self._refuse(CLOSE_NOT_LOGGED_IN, "Log in to open this note")
        if role is None:
            return await self._refuse(CLOSE_NOT_FOUND, "This note does not exist")
        if role < Role.VIEWER:
            return await self._refuse(CLOSE_FORBIDDEN, "You do not have access to this note")
        if get_hub().sockets_of(self.user_id) >= settings.NOTES_MAX_SOCKETS_PER_USER:
            get_hub().stats["closed_by_limit"] += 1
            logger.warning("too many sockets", extra={"note": str(self.note_id), "user": user.pk})
            return await self._refuse(CLOSE_TOO_MANY, "Too many open connections")
        self.bucket = TokenBucket(settings.NOTES_RATE_LIMIT, settings.NOTES_RATE_BURST)
        self.role = role
        self.user_name = user_display_name(user)
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.wants_acks = query.get("acks") == ["1"]
        await self.accept()
        await get_hub().join(self)
        self.joined = True

    async def _refuse(self, code: int, reason: str):
        # Accept first: a close before accepting becomes an HTTP 403 and the code is lost.
        await self.accept()
        await self.close(code=code, reason=reason)

    async def dispatch(self, message):
        """Hand each message straight to its handler.

        Channels' dispatch first closes stale database connections, a trip to the database
        thread per message. Frames (the hot path) and disconnects do no database work, and
        connect's access check closes them itself.
        """
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await getattr(self, get_handler_name(message))(message)

    async def receive(self, text_data=None, bytes_data=None):
        """Called for each frame from the client."""
        if not self.joined:
            return
        hub = get_hub()
        hub.stats["frames_in"] += 1
        if not self.bucket.take():
            hub.stats["closed_by_limit"] += 1
            logger.warning(
                "message rate exceeded, closing socket",
                extra={"note": str(self.note_id), "peer": self.peer_id},
            )
            return await self.close_with(CLOSE_TOO_MANY, "Too many messages")
        if bytes_data is None:
            return await self.close_with(CLOSE_PROTOCOL_ERROR, "Text frames are not supported")
        if len(bytes_data) > settings.NOTES_MAX_MESSAGE_BYTES:
            hub.stats["closed_by_limit"] += 1
            return await self.close_with(
                CLOSE_TOO_BIG,
                f"Message of {len(bytes_data)} bytes exceeds the limit of "
                f"{settings.NOTES_MAX_MESSAGE_BYTES} bytes",
            )
        try:
            message = protocol.decode_message(bytes_data)
            match message:
                case protocol.SyncStep1(state_vector):
                    await hub.sync_step1(self, state_vector)
                case protocol.SyncStep2(update) | protocol.SyncUpdate(update):
                    await hub.document_update(self, update)
                case protocol.Awareness(payload):
                    await hub.awareness(self, payload)
                case protocol.QueryAwareness():
                    await hub.query_awareness(self)
        except NoteTooLarge as exc:
            hub.stats["closed_by_limit"] += 1
            logger.warning(
                "edit over the note size limit, closing socket",
                extra={"note": str(self.note_id), "peer": self.peer_id},
            )
            await self.close_with(CLOSE_NOTE_TOO_LARGE, str(exc))
        except protocol.ProtocolError as exc:
            logger.warning(
                "protocol error, closing socket",
                extra={"note": str(self.note_id), "peer": self.peer_id, "error": str(exc)},
            )
            await self.close_with(CLOSE_PROTOCOL_ERROR, f"Protocol error: {exc}")

    async def disconnect(self, code):
        """Called when the socket closes (not on SIGTERM: see docs/architecture.md)."""
        if self.joined:
            self.joined = False
            await get_hub().leave(self)

    # --- the Peer interface the hub uses ---

    @property
    def can_write(self) -> bool:
        return self.role >= Role.EDITOR

    async def send_frame(self, data: bytes) -> None:
        if self.send_binary is None or not self.send_binary(data):
            await self.send(bytes_data=data)

    async def close_with(self, code: int, reason: str) -> None:
        if self.joined:
            self.joined = False
            await get_hub().leave(self)
        await self.close(code=code, reason=reason[:120])


class NotesListConsumer(AsyncWebsocketConsumer):
    """A user's notes list at ws/notes/: JSON events as their notes appear, change, go, and
    as people start and stop editing them. Server to client only."""

    channel_layer_alias = NoteConsumer.channel_layer_alias

    async def connect(self):
        """Called when the list page opens its socket."""
        self.joined = False
        self.peer_id = next(_peer_ids)
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
