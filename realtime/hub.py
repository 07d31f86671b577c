"""
The per-process hub: the room engine's one object per process. It opens a room (one loaded
note with its authoritative document) when the note's first local peer joins, closes it a
grace period after the last one leaves, and wires the engine's parts together:

- realtime.intake applies peers' sync messages and queues what they change;
- realtime.commits commits the queue in batches (group commit), then hands each note's share
  to realtime.fanout, which sends it to the note's other local peers and other processes;
- realtime.presence relays awareness, realtime.listfeed feeds the live notes lists,
  realtime.chatfeed passes chat and comment events to open editors;
- realtime.healing catches rooms up from the log, realtime.upkeep keeps derived state;
- realtime.access carries out access changes; realtime.bus receives from other processes.

Transports reach the hub only through realtime.session, with a realtime.peer.Peer.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict

from django.conf import settings

from notes import broadcast, documents, selectors
from notes.services import storage
from realtime import protocol
from realtime.access import AccessEvents
from realtime.bus import Bus
from realtime.chatfeed import ChatFeed
from realtime.commits import CommitPipeline, Pending
from realtime.fanout import FanOut
from realtime.healing import HEAL_INTERVAL, Healer
from realtime.intake import Intake
from realtime.listfeed import ListPeer, NotesListFeed
from realtime.peer import CLOSE_SERVER_ERROR, Peer
from realtime.presence import Presence
from realtime.room import PeerState, Room, Sender
from realtime.threads import DatabaseThreads
from realtime.upkeep import Checkpoints, Compactor, TextMirrors

logger = logging.getLogger("realtime.hub")

UNLOAD_GRACE = settings.NOTES_UNLOAD_GRACE


class Hub:
    """Owns the loaded notes of this process. One per event loop (see `get_hub`)."""

    def __init__(self) -> None:
        self.hub_id = uuid.uuid4().hex[:16]
        self.rooms: dict[uuid.UUID, Room] = {}
        self.stats: defaultdict[str, int] = defaultdict(int)
        self._user_peers: dict[int, int] = {}  # user id -> note peers in this process
        self._tasks: list[asyncio.Task] = []
        self._start_lock = asyncio.Lock()
        self._started = False
        self.threads = DatabaseThreads()
        self.sender = Sender(self.stats)
        self.bus = Bus(self.hub_id)
        self.fanout = FanOut(
            hub_id=self.hub_id, rooms=self.rooms, sender=self.sender, stats=self.stats
        )
        self.presence = Presence(hub_id=self.hub_id, sender=self.sender, fan_out=self.fanout)
        self.feed = NotesListFeed(hub_id=self.hub_id, bus=self.bus, rooms=self.rooms)
        self.commits = CommitPipeline(
            threads=self.threads,
            sender=self.sender,
            stats=self.stats,
            committed=self._committed,
            failed=self._commit_failed,
        )
        self.intake = Intake(self.commits)
        self.healer = Healer(threads=self.threads, sender=self.sender, stats=self.stats)
        self.mirrors = TextMirrors(threads=self.threads)
        self.compactor = Compactor(threads=self.threads, stats=self.stats)
        self.checkpoints = Checkpoints(threads=self.threads, stats=self.stats)
        self.access = AccessEvents(
            rooms=self.rooms,
            threads=self.threads,
            sender=self.sender,
            close_peer=self.close_peer,
            close_room=self._close_room,
        )
        self.chat = ChatFeed(self.sender)
        self.bus.handlers = {
            broadcast.NOTE_UPDATE: self.fanout.note_update,
            broadcast.NOTE_AWARENESS: self._in_room(self.presence.note_awareness),
            broadcast.NOTE_PRESENCE_QUERY: self._in_room(self.presence.note_presence_query),
            broadcast.NOTE_ACCESS: self._in_room(self.access.note_access),
            broadcast.NOTE_DELETED: self._in_room(self.access.note_deleted),
            broadcast.NOTE_CHAT: self._in_room(self.chat.note_chat),
            broadcast.NOTE_COMMENTS: self._in_room(self.chat.note_comments),
            broadcast.SESSION_ENDED: self.access.session_ended,
            broadcast.USER_SESSIONS_ENDED: self.access.user_sessions_ended,
            broadcast.USER_NOTES: self.feed.user_notes,
            broadcast.PRESENCE_QUERY: self.feed.presence_query,
        }
        self.bus.rejoined = self._heal_all_soon

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Called before the first peer joins: open our channel and start the loops."""
        async with self._start_lock:
            if self._started:
                return
            await self.bus.open()
            self.commits.open()
            self.fanout.start()
            for name, loop in (
                ("receive", self.bus.run),
                ("commit", self.commits.run),
                ("tick", self._tick_loop),
                ("checkpoint", self.checkpoints.run),
            ):
                self._tasks.append(asyncio.create_task(loop(), name=f"hub-{name}"))
            self._started = True
            logger.info("hub started", extra={"hub": self.hub_id})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        # Nothing scheduled may run after this: its task would outlive the hub (and, in tests,
        # the event loop). Unloading still stores every dirty text.
        self.mirrors.cancel()
        for room in list(self.rooms.values()):
            room.cancel_timers()
            await self._unload(room)
        await self.commits.close()
        await self.threads.close()
        self._started = False

    # --- peers joining and leaving ----------------------------------------------------------

    async def join(self, peer: Peer) -> None:
        """Called when a transport has accepted a peer: load the note if needed and greet it."""
        await self.start()
        room = self.rooms.get(peer.note_id)
        if room is None or room.closed:
            room = Room(
                note_id=peer.note_id,
                doc=documents.doc_new(),
                loaded=asyncio.get_running_loop().create_future(),
            )
            self.rooms[peer.note_id] = room
            asyncio.create_task(self._load(room))
        if room.unload is not None:
            room.unload.cancel()
            room.unload = None
        state = room.peers[peer.peer_id] = PeerState(peer=peer)
        self.healer.joined(state)
        self._count_peer(peer.user_id, +1)
        await asyncio.shield(room.loaded)
        if room.peers.get(peer.peer_id) is not state:
            return  # closed while the note loaded (access removed, logged out, deleted)
        if peer.wants_acks:
            await peer.send_frame(protocol.encode_access(peer.role))
        self.feed.changed(room)
        # Our state first, so the client answers with whatever we lack...
        await peer.send_frame(protocol.encode_sync_step1(room.doc.get_state()))
        # ...and everyone already here, so a joiner sees them at once.
        present = self.presence.current(room)
        if present is not None:
            await peer.send_frame(present)
        peer.joined = room.peers.get(peer.peer_id) is state

    async def _load(self, room: Room) -> None:
        try:
            # Join the group before reading, so nothing committed in between is missed.
            await self.bus.join(broadcast.note_group(room.note_id))
            state = await self.threads.run(storage.note_state_load, note_id=room.note_id)
            room.audience = await self.threads.run(selectors.note_audience, note_id=room.note_id)
            for update in state.updates:
                room.doc.apply_update(update)
            room.text_bytes_bound = len(documents.doc_text(room.doc).encode("utf-8"))
            self.healer.loaded(room, state.through)
            room.loaded.set_result(True)
            await self.presence.loaded(room)
            self.stats["notes_loaded"] += 1
            logger.info("note loaded", extra={"note": str(room.note_id), "log": len(state.updates)})
        except Exception as exc:
            logger.exception("note load failed", extra={"note": str(room.note_id)})
            room.loaded.set_exception(exc)
            await self._close_room(room, CLOSE_SERVER_ERROR, "The note could not be loaded")

    async def leave(self, peer: Peer) -> None:
        """Called when a peer has gone: drop its presence, and unload the note when idle."""
        peer.joined = False
        room = self.rooms.get(peer.note_id)
        if room is None:
            return
        state = room.peers.pop(peer.peer_id, None)
        if state is None:
            return
        self._count_peer(peer.user_id, -1)
        self.presence.left(room, state)
        self.feed.changed(room)
        if not room.peers and not room.closed:
            room.unload = asyncio.get_running_loop().call_later(
                UNLOAD_GRACE, lambda: asyncio.create_task(self._unload_if_idle(room))
            )

    async def close_peer(self, room: Room, state: PeerState, code: int, reason: str) -> None:
        """End one peer's conversation from the server's side."""
        with contextlib.suppress(Exception):
            await self.leave(state.peer)
            await state.peer.link.close_with(code, reason)

    def peers_of(self, user_id) -> int:
        """How many note peers this user has open in this process."""
        return self._user_peers.get(user_id, 0)

    def _count_peer(self, user_id, delta: int) -> None:
        count = self._user_peers.get(user_id, 0) + delta
        if count > 0:
            self._user_peers[user_id] = count
        else:
            self._user_peers.pop(user_id, None)

    async def list_join(self, peer: ListPeer) -> None:
        """Called when a user's notes list connects."""
        await self.start()
        await self.feed.join(peer)

    async def list_leave(self, peer: ListPeer) -> None:
        await self.feed.leave(peer)

    # --- messages from peers ----------------------------------------------------------------

    async def receive(self, peer: Peer, message: protocol.Message) -> None:
        """A decoded message from a peer (realtime.session has checked its limits)."""
        room = self.rooms.get(peer.note_id)
        if room is None or not room.loaded.done():
            raise protocol.ProtocolError("note is not loaded")
        match message:
            case protocol.SyncStep1(state_vector):
                await peer.send_frame(self.intake.sync_step1(room, state_vector))
            case protocol.SyncStep2(update) | protocol.SyncUpdate(update):
                self.intake.document_update(room, peer, update)
            case protocol.Awareness(payload):
                state = room.peers.get(peer.peer_id)
                if state is not None:
                    self.presence.awareness(room, state, payload)
            case protocol.QueryAwareness():
                await self.presence.query(room, peer)

    # --- after commit -----------------------------------------------------------------------

    async def _committed(self, room: Room, stored: list[Pending]) -> None:
        """Part of a commit batch is the note's: pass it on and keep derived state up."""
        await self.fanout.committed(room, stored)
        self.compactor.appended(room, len(stored))
        self.mirrors.changed(room)

    async def _commit_failed(self, room: Room) -> None:
        await self._close_room(room, CLOSE_SERVER_ERROR, "Saving failed; reconnecting")

    # --- periodic work and messages from other processes ------------------------------------

    async def _tick_loop(self) -> None:
        """About once a second, each loaded note's periodic work."""
        while True:
            await asyncio.sleep(min(1.0, HEAL_INTERVAL / 2))
            now = time.monotonic()
            for room in list(self.rooms.values()):
                if not room.ready:
                    continue
                try:
                    await self.healer.tick(room, now)
                    await self.presence.expire(room, now)
                    await self.feed.tick(room, now)
                except Exception:
                    logger.exception("heal failed", extra={"note": str(room.note_id)})

    def _heal_all_soon(self) -> None:
        """The channel layer came back: whatever it lost, every note catches up next tick."""
        for room in list(self.rooms.values()):
            room.next_heal = 0.0

    def _in_room(self, handler):
        """A bus handler for messages about one note: called only while it is loaded here."""

        async def dispatch(message: dict) -> None:
            room = self.rooms.get(uuid.UUID(message["note"]))
            if room is not None and not room.closed:
                await handler(room, message)

        return dispatch

    # --- closing rooms ----------------------------------------------------------------------

    async def _unload_if_idle(self, room: Room) -> None:
        room.unload = None
        if room.peers or room.closed or self.rooms.get(room.note_id) is not room:
            return
        if room.in_flight:
            # Still committing: try again shortly rather than drop the note mid-write.
            room.unload = asyncio.get_running_loop().call_later(
                0.5, lambda: asyncio.create_task(self._unload_if_idle(room))
            )
            return
        await self._unload(room)

    async def _unload(self, room: Room) -> None:
        room.closed = True
        if self.rooms.get(room.note_id) is room:
            del self.rooms[room.note_id]
        await self.mirrors.flush(room)
        await self.compactor.unloading(room)
        if room.note_id not in self.rooms:  # a joiner meanwhile opened a room that needs it
            await self.bus.leave(broadcast.note_group(room.note_id))
        logger.info("note unloaded", extra={"note": str(room.note_id)})

    async def _close_room(self, room: Room, code: int, reason: str) -> None:
        peers = [state.peer for state in room.peers.values()]
        room.peers.clear()
        for peer in peers:
            peer.joined = False
            self._count_peer(peer.user_id, -1)
        await self._unload(room)
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.link.close_with(code, reason)


_hub: Hub | None = None
_hub_loop: asyncio.AbstractEventLoop | None = None


def get_hub() -> Hub:
    """The hub of this process (one per event loop; tests run several loops in turn)."""
    global _hub, _hub_loop
    loop = asyncio.get_running_loop()
    if _hub is None or _hub_loop is not loop:
        _hub, _hub_loop = Hub(), loop
    return _hub
