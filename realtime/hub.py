"""
The per-process hub: one authoritative document per loaded note, and the note's local sockets.

Sockets (notes.consumers) hand decoded messages to the hub; the hub owns everything after that:

- A note is loaded from the database when its first local socket joins, before any sync reply,
  and unloaded a short grace period after its last local socket leaves.
- The hub, not each socket, joins the note's channel-layer group: one membership per note per
  process, so fan-out cost does not grow with the number of members.
- Client updates are applied (which validates them), queued, and committed by one persister in
  batches across all notes (group commit): on the event loop's own database connection
  (notes.journal), or on the persist thread when that cannot commit at once. Only after the
  commit does the hub send them to the note's other local sockets and, once per note per
  batch, to the group (if another process can hear it).
- Channel-layer delivery is at-most-once. Each hub numbers its messages per note; a receiver
  that sees a gap, and every loaded note every HEAL_INTERVAL, catches up from the database log.
  Clients are also sent sync step 1 every RESYNC_INTERVAL so they return anything we lack.
- Awareness (presence and cursors) rides the same fan-out, coalesced per socket.
"""

import asyncio
import contextlib
import functools
import logging
import random
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, connection, connections
from pycrdt import Doc, merge_updates

from notes import broadcast, documents, selectors, services
from notes.permissions import Role
from notes.services import Append
from realtime import journal, metrics, protocol, yupdate

logger = logging.getLogger("realtime.hub")

# Tunables, read once from settings (each documented in README.md and docs/architecture.md).
HEAL_INTERVAL = settings.NOTES_HEAL_INTERVAL
RESYNC_INTERVAL = settings.NOTES_RESYNC_INTERVAL
UNLOAD_GRACE = settings.NOTES_UNLOAD_GRACE
TEXT_REFRESH_DELAY = settings.NOTES_TEXT_REFRESH_DELAY
COMPACT_EVERY = settings.NOTES_COMPACT_EVERY
AWARENESS_INTERVAL = settings.NOTES_AWARENESS_INTERVAL
EMPTY_STATE_VECTOR = b"\x00"  # a client that has nothing yet
# Notes whose text mirrors are written in one transaction (see _refresh_texts).
TEXT_REFRESH_CHUNK = 20
# Fault injection for tests: the share of incoming fan-out messages to drop (0 in production).
FAULT_DROP_FANOUT = settings.NOTES_FAULT_DROP_FANOUT
AWARENESS_TIMEOUT = 30.0
PRESENCE_RENEW = 30.0  # lists forget a process's "who is editing" after 75 s without renewal
PRESENCE_DEBOUNCE = 0.25  # joins and leaves within this reach notes lists as one announcement
READ_THREADS = 2  # y-protocols clients renew every 15 s and drop peers after 30 s.

# Close codes (docs/protocol.md lists them all).
CLOSE_LOGGED_OUT = 4401
CLOSE_ACCESS_REMOVED = 4403
CLOSE_NOTE_DELETED = 4404
CLOSE_SERVER_ERROR = 1011


class ListPeer(Protocol):
    """A user's live notes list (implemented by notes.consumers.NotesListConsumer)."""

    peer_id: int
    user_id: int

    async def send_event(self, event: dict) -> None: ...


class Peer(Protocol):
    """What the hub needs of a socket (implemented by notes.consumers.NoteConsumer)."""

    peer_id: int
    note_id: uuid.UUID
    user_id: int
    user_name: str
    session_key: str | None
    role: int  # notes.permissions.Role; the hub lowers or raises it when access changes
    can_write: bool
    wants_acks: bool

    async def send_frame(self, data: bytes) -> None: ...

    async def close_with(self, code: int, reason: str) -> None: ...


@dataclass
class PeerState:
    """The hub's bookkeeping for one local socket."""

    peer: Peer
    received: int = 0  # document messages received (step 2 and update)
    acked: int = 0  # of those, how many are durably handled
    awareness_ids: set[int] = field(default_factory=set)
    # When this socket is next sent sync step 1 (see _resync). Each socket has its own phase,
    # at most RESYNC_INTERVAL after joining (clients drop sockets that stay silent).
    next_resync: float = field(
        default_factory=lambda: time.monotonic() + RESYNC_INTERVAL * random.random()
    )


@dataclass
class AwarenessClient:
    entry: protocol.AwarenessEntry
    seen_at: float
    peer_id: int | None  # the local socket it came through; None for other processes


@dataclass
class Room:
    """One loaded note in this process."""

    note_id: uuid.UUID
    doc: Doc
    loaded: asyncio.Future
    peers: dict[int, PeerState] = field(default_factory=dict)
    awareness: dict[int, AwarenessClient] = field(default_factory=dict)
    awareness_clock: dict[int, int] = field(default_factory=dict)  # highest clock per client
    # Presence changes not yet passed on: client id -> (entry, the local socket it came from,
    # None for a client that left); sent together, at most every AWARENESS_INTERVAL.
    awareness_pending: dict[int, tuple[protocol.AwarenessEntry, int | None]] = field(
        default_factory=dict
    )
    awareness_flush: asyncio.TimerHandle | None = None
    awareness_next: float = 0.0
    seq: int = 0  # our fan-out messages for this note
    remote_seq: dict[str, int] = field(default_factory=dict)
    heal_after: int = 0  # catch-up reads the log after this id...
    heal_through: int = 0  # ...and this is what the last read reached
    next_heal: float = 0.0
    in_flight: int = 0  # updates queued or being committed
    unstored: int = 0  # log entries appended since the last compaction
    compacting: bool = False
    unload: asyncio.TimerHandle | None = None
    closed: bool = False
    audience: list[int] = field(default_factory=list)  # who may see the note (for lists)
    next_presence: float = 0.0
    presence_timer: asyncio.TimerHandle | None = None
    text_bytes_bound: int = 0  # the text's UTF-8 size is at most this (see _check_size)
    # The whole document encoded, for joiners that have nothing yet (see sync_step1), and its
    # state vector decoded (see clocks); each None once the document changes.
    full_update: bytes | None = None
    _clocks: dict[int, int] | None = None

    def cancel_timers(self) -> None:
        """Drop whatever is scheduled for this note: the hub is stopping."""
        for timer in (self.awareness_flush, self.unload, self.presence_timer):
            if timer is not None:
                timer.cancel()
        self.awareness_flush = self.unload = self.presence_timer = None

    def apply(self, *updates: bytes, observe: bool = True) -> bool:
        """Apply updates to the loaded document (see _apply); whether it changed. With
        observe=False this returns True and the caller tells from the state vector.

        The cached encodings are dropped only if the document changed (or Yrs refused an update
        after integrating part of it). Catch-up re-reads log entries the document already holds
        every HEAL_INTERVAL; dropping them then made the next joiner encode the whole document
        again (1.4 ms on the event loop for the join storm's 300 KB note) and the next update
        decode the state vector again, for nothing."""
        try:
            changed = _apply(self.doc, *updates, observe=observe)
        except BaseException:
            self.full_update = self._clocks = None
            raise
        if changed:
            self.full_update = self._clocks = None
        return changed

    def clocks(self) -> dict[int, int]:
        """The document's state vector as {client id: clock}, decoded once per change (every
        client update is checked against it before and after it is applied)."""
        if self._clocks is None:
            self._clocks = yupdate.decode_state_vector(self.doc.get_state())
        return self._clocks


@dataclass
class Pending:
    room: Room
    peer_id: int
    update: bytes
    author_id: int | None
    received_at: float = field(default_factory=time.perf_counter)


class Hub:
    """Owns the loaded notes of this process. One per event loop (see `get_hub`)."""

    def __init__(self) -> None:
        self.hub_id = uuid.uuid4().hex[:16]
        self.rooms: dict[uuid.UUID, Room] = {}
        self.listeners: dict[int, dict[int, ListPeer]] = {}  # user id -> open notes lists
        self._user_sockets: dict[int, int] = {}  # user id -> note sockets in this process
        # Notes whose text mirror is behind their document, refreshed together (see
        # _schedule_text_refresh).
        self._text_dirty: dict[uuid.UUID, Room] = {}
        self._text_refresh: asyncio.TimerHandle | None = None
        self.channel: str | None = None
        self.layer = get_channel_layer()
        self._queue: list[Pending] = []
        self._queue_ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._start_lock = asyncio.Lock()
        # Persists run on their own thread so they never wait behind page views or loads.
        self._persist_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notes-persist")
        # Appends that can commit at once do so on the event loop (see _append).
        self._journal: journal.Journal | None = None
        self.fan_out_elsewhere = True
        self._read_threads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="notes-read")
        self.stats: dict[str, int] = defaultdict(int)
        self.persist_seconds = metrics.Histogram(metrics.PERSIST_BUCKETS)
        self.edit_commit_seconds = metrics.Histogram(metrics.PERSIST_BUCKETS)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Called before the first socket joins: open our channel and start the loops."""
        async with self._start_lock:
            if self.channel is not None:
                return
            self.channel = await self.layer.new_channel(prefix=broadcast.HUB_CHANNEL_PREFIX)
            await self.layer.group_add(broadcast.HUBS_GROUP, self.channel)
            self._journal = journal.journal_for_default_database()
            # Our own note fan-out is for other processes; with none, it is skipped.
            self.fan_out_elsewhere = broadcast.layer_reaches_other_processes()
            for loop in (
                self._receive_loop,
                self._persist_loop,
                self._heal_loop,
                self._checkpoint_loop,
            ):
                self._tasks.append(asyncio.create_task(loop(), name=f"hub-{loop.__name__}"))
            logger.info("hub started", extra={"hub": self.hub_id})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        # Nothing scheduled may run after this: its task would outlive the hub (and, in tests,
        # the event loop). _unload still stores every dirty text.
        if self._text_refresh is not None:
            self._text_refresh.cancel()
            self._text_refresh = None
        for room in list(self.rooms.values()):
            room.cancel_timers()
            await self._unload(room)
        if self._journal is not None:
            with contextlib.suppress(Exception):
                await self._journal.close()
            self._journal = None
        for executor, size in ((self._persist_thread, 1), (self._read_threads, READ_THREADS)):
            await asyncio.get_running_loop().run_in_executor(
                None, _close_connections_in_threads, executor, size
            )
            executor.shutdown(wait=True)
        self.channel = None

    async def _db(self, fn, /, *, write: bool = False, **kwargs):
        """Run a service on the persist thread (writes) or a read thread, off the event loop."""
        executor = self._persist_thread if write else self._read_threads
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(_call_with_reconnect, fn, kwargs)
        )

    # --- joining and leaving ----------------------------------------------------------------

    async def join(self, peer: Peer) -> None:
        """Called when a socket has been accepted: load the note if needed and greet the peer."""
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
        room.peers[peer.peer_id] = PeerState(peer=peer)
        self._count_socket(peer.user_id, +1)
        await asyncio.shield(room.loaded)
        if peer.wants_acks:
            await peer.send_frame(protocol.encode_access(peer.role))
        self._presence_changed(room)
        # Our state first, so the client answers with whatever we lack...
        await peer.send_frame(protocol.encode_sync_step1(room.doc.get_state()))
        # ...and everyone already here, so a joiner sees them at once.
        if room.awareness:
            entries = [c.entry for c in room.awareness.values()]
            await peer.send_frame(
                protocol.encode_awareness(protocol.encode_awareness_payload(entries))
            )

    async def _load(self, room: Room) -> None:
        try:
            # Join the group before reading, so nothing committed in between is missed.
            await self.layer.group_add(broadcast.note_group(room.note_id), self.channel)
            state = await self._db(services.note_state_load, note_id=room.note_id)
            room.audience = await self._db(selectors.note_audience, note_id=room.note_id)
            for update in state.updates:
                room.doc.apply_update(update)
            room.text_bytes_bound = len(documents.doc_text(room.doc).encode("utf-8"))
            room.heal_after = room.heal_through = state.through
            now = time.monotonic()
            room.next_heal = now + HEAL_INTERVAL * (0.5 + random.random())
            room.loaded.set_result(True)
            if self.fan_out_elsewhere:
                # Presence is not stored: ask the processes already editing this note.
                await broadcast.send_note_presence_query(note_id=room.note_id, origin=self.hub_id)
            self.stats["notes_loaded"] += 1
            logger.info("note loaded", extra={"note": str(room.note_id), "log": len(state.updates)})
        except Exception as exc:
            logger.exception("note load failed", extra={"note": str(room.note_id)})
            room.loaded.set_exception(exc)
            await self._close_room(room, CLOSE_SERVER_ERROR, "The note could not be loaded")

    async def leave(self, peer: Peer) -> None:
        """Called when a socket has gone: drop its presence, and unload the note when idle."""
        room = self.rooms.get(peer.note_id)
        if room is None:
            return
        state = room.peers.pop(peer.peer_id, None)
        if state is None:
            return
        self._count_socket(peer.user_id, -1)
        for client_id in state.awareness_ids:
            if room.awareness.pop(client_id, None) is not None:
                gone = self._restamp(room, protocol.AwarenessEntry(client_id, 0, "null"))
                room.awareness_pending[client_id] = (gone, None)
        if room.awareness_pending:
            self._schedule_awareness_flush(room)
        self._presence_changed(room)
        if not room.peers and not room.closed:
            loop = asyncio.get_running_loop()
            room.unload = loop.call_later(
                UNLOAD_GRACE, lambda: asyncio.create_task(self._unload_if_idle(room))
            )

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
        if self._text_dirty.pop(room.note_id, None) is not None:
            await self._refresh_texts([room])
        if room.unstored and not room.compacting:
            await self._compact(room)
        with contextlib.suppress(Exception):
            await self.layer.group_discard(broadcast.note_group(room.note_id), self.channel)
        logger.info("note unloaded", extra={"note": str(room.note_id)})

    async def _close_room(self, room: Room, code: int, reason: str) -> None:
        peers = [state.peer for state in room.peers.values()]
        room.peers.clear()
        for peer in peers:
            self._count_socket(peer.user_id, -1)
        await self._unload(room)
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close_with(code, reason)

    # --- messages from local sockets --------------------------------------------------------

    async def sync_step1(self, peer: Peer, state_vector: bytes) -> None:
        """A client sent its state vector: answer with everything it lacks."""
        room = self._room_of(peer)
        if state_vector == EMPTY_STATE_VECTOR:
            # A new joiner: in a join storm on a large note, every one of them asks for the
            # same whole document, which Yrs would encode again each time.
            if room.full_update is None:
                room.full_update = room.doc.get_update(state_vector)
            missing = room.full_update
        else:
            try:
                missing = room.doc.get_update(state_vector)
            except ValueError:
                raise protocol.ProtocolError("invalid state vector") from None
        await peer.send_frame(protocol.encode_sync_step2(missing))

    async def document_update(self, peer: Peer, update: bytes) -> None:
        """A client sent an update (sync step 2 or update): apply, then queue it for commit."""
        room = self._room_of(peer)
        state = room.peers.get(peer.peer_id)
        if state is None or not peer.can_write:
            return  # Read-only sockets never change the note.
        if update != documents.EMPTY_UPDATE:
            shape = yupdate.check_update(update)  # before Yrs sees it: some shapes break a doc
            before = room.clocks()
            if shape.is_known_to(before):
                update = documents.EMPTY_UPDATE  # a duplicate: nothing to apply, store or send
            else:
                self._check_size(room, update)
                # Without deletes, an update changes the document exactly when it moves the
                # state vector, so a plain insert (most keystrokes) needs no observer.
                observe = bool(shape.delete_ends)
                try:
                    changed = room.apply(update, observe=observe)
                except protocol.ProtocolError:
                    # Yrs can refuse an update after integrating part of it. What it left in
                    # the document is kept as the sender's edit, stored and passed on, so that
                    # memory, the log and every replica still agree; then the sender is closed.
                    if room.clocks() != before:
                        gained = room.doc.get_update(yupdate.encode_state_vector(before))
                        self._enqueue(room, peer, gained)
                    raise
                after = room.clocks()
                if not observe:
                    changed = after != before
                if not changed:
                    # Nothing new: a client answering our step 1 sends its whole delete set,
                    # and structs that wait for a dependency change nothing yet.
                    update = documents.EMPTY_UPDATE
                elif not shape.integrated_exactly(before, after):
                    # Part of it waits for a dependency, or it brought in structs that were
                    # waiting. Store and pass on exactly what the document gained (never the
                    # change Yrs observes, which leaves out structs that waited). What still
                    # waits stays in memory until an update completes it: stored now, it
                    # could make the log impossible to load if it never fits.
                    update = room.doc.get_update(yupdate.encode_state_vector(before))
                room.text_bytes_bound += len(update)
        state.received += 1
        self._enqueue(room, peer, update)

    def _enqueue(self, room: Room, peer: Peer, update: bytes) -> None:
        """Queue an applied update for the group commit (notes.hub._persist_loop)."""
        self._queue.append(Pending(room, peer.peer_id, update, peer.user_id))
        room.in_flight += 1
        self._queue_ready.set()

    @staticmethod
    def _check_size(room: Room, update: bytes) -> None:
        """Refuse an update that would make the note's text larger than NOTES_MAX_NOTE_BYTES.

        An update adds at most its own length in text, so `text_bytes_bound` (the text's size
        when last measured, plus every update since) decides cheaply; only near the limit is
        the text measured, and only past it the update tried on a copy.
        """
        limit = settings.NOTES_MAX_NOTE_BYTES
        if room.text_bytes_bound + len(update) <= limit:
            return
        room.text_bytes_bound = len(documents.doc_text(room.doc).encode("utf-8"))
        if room.text_bytes_bound + len(update) <= limit:
            return
        trial = documents.doc_from_updates([room.doc.get_update()])
        _apply(trial, update)
        size = len(documents.doc_text(trial).encode("utf-8"))
        if size > limit:
            raise services.NoteTooLarge(
                f"The note would be {size:,} bytes; the limit is {limit:,} bytes"
            )

    def sockets_of(self, user_id) -> int:
        """How many note sockets this user has open in this process."""
        return self._user_sockets.get(user_id, 0)

    def _count_socket(self, user_id, delta: int) -> None:
        count = self._user_sockets.get(user_id, 0) + delta
        if count > 0:
            self._user_sockets[user_id] = count
        else:
            self._user_sockets.pop(user_id, None)

    async def awareness(self, peer: Peer, payload: bytes) -> None:
        """A client's presence changed: remember it, and pass it on at most every interval."""
        room = self._room_of(peer)
        state = room.peers.get(peer.peer_id)
        if state is None:
            return
        now = time.monotonic()
        for entry in protocol.decode_awareness_payload(payload):
            if self._is_echo(room, state, entry):
                continue
            out = self._restamp(room, entry)
            if out.gone:
                room.awareness.pop(out.client_id, None)
                state.awareness_ids.discard(out.client_id)
            else:
                room.awareness[out.client_id] = AwarenessClient(out, now, peer.peer_id)
                state.awareness_ids.add(out.client_id)
            room.awareness_pending[out.client_id] = (out, peer.peer_id)
        if room.awareness_pending:
            self._schedule_awareness_flush(room)

    @staticmethod
    def _is_echo(room: Room, state: PeerState, entry: protocol.AwarenessEntry) -> bool:
        """Whether a socket is only relaying someone else's presence back to us.

        y-websocket clients re-send every awareness change they receive. Taken as the sender's
        own, a relayed entry would be restamped and fanned out again, and two processes would
        bounce it between them for ever. So a socket speaks only for client ids that are its
        own or that nobody holds (a client reconnecting here after its socket closed), and for
        another process's client only with a clock newer than any we have seen (the client
        moved here from a process that died).
        """
        current = room.awareness.get(entry.client_id)
        if current is None:
            # "Gone" for a client nobody holds changes nothing; anything else is a (re)join.
            return entry.gone and entry.client_id not in state.awareness_ids
        if current.peer_id == state.peer.peer_id:
            return False
        if current.peer_id is not None:
            return True  # Another local socket owns this client id.
        return entry.clock <= room.awareness_clock.get(entry.client_id, -1)

    @staticmethod
    def _restamp(room: Room, entry: protocol.AwarenessEntry) -> protocol.AwarenessEntry:
        """Give the entry a clock newer than any this note has seen for the client.

        A reconnecting client re-sends its state with a clock its peers have already seen (we
        announced it gone at clock + 1), and y-protocols peers ignore such states until the next
        renewal. As the only relay between a note's clients, the server keeps one monotonic
        clock per client id, so a returning client shows up at once.
        """
        clock = max(entry.clock, room.awareness_clock.get(entry.client_id, -1) + 1)
        room.awareness_clock[entry.client_id] = clock
        if clock == entry.clock:
            return entry
        return protocol.AwarenessEntry(entry.client_id, clock, entry.state)

    async def query_awareness(self, peer: Peer) -> None:
        room = self._room_of(peer)
        entries = [c.entry for c in room.awareness.values()]
        await peer.send_frame(protocol.encode_awareness(protocol.encode_awareness_payload(entries)))

    def _room_of(self, peer: Peer) -> Room:
        room = self.rooms.get(peer.note_id)
        if room is None or not room.loaded.done():
            raise protocol.ProtocolError("note is not loaded")
        return room

    # --- persistence (group commit) ---------------------------------------------------------

    async def _persist_loop(self) -> None:
        """Commit what is queued as one batch, pass it on, and only then take the next batch.

        Committing the next batch while this one is sent looked faster at low load (typing-20
        p50 2.4 -> 2.0 ms), but under load the sends are the bottleneck, and smaller batches
        cost every note more frames and channel-layer messages: two processes on Redis at 150
        authors went from p95 124 ms to over 800 ms. Waiting here lets batches grow with load.
        """
        while True:
            await self._queue_ready.wait()
            self._queue_ready.clear()
            batch, self._queue = self._queue, []
            if batch:
                await self._persist(batch)

    async def _persist(self, batch: list[Pending]) -> None:
        to_store = [p for p in batch if p.update != documents.EMPTY_UPDATE]
        started = time.perf_counter()
        try:
            await self._append([Append(p.room.note_id, p.update, p.author_id) for p in to_store])
        except Exception:
            logger.exception("persist failed", extra={"updates": len(to_store)})
            await self._persist_failed(batch)
            return
        self.stats["persist_batches"] += 1
        committed = time.perf_counter()
        self.persist_seconds.observe(committed - started)
        for pending in to_store:
            self.edit_commit_seconds.observe(committed - pending.received_at)
        by_room: dict[uuid.UUID, list[Pending]] = defaultdict(list)
        for pending in batch:
            by_room[pending.room.note_id].append(pending)
        for items in by_room.values():
            room = items[0].room
            room.in_flight -= len(items)
            await self._after_commit(room, items)

    async def _append(self, entries: list[Append]) -> None:
        """Make `entries` durable: on the event loop's own connection when it can commit them
        at once (notes.journal: no thread hop), otherwise on the persist thread."""
        if not entries:
            return
        if self._journal is not None and await self._journal.append(entries):
            if self._journal.checkpoint_due():
                asyncio.create_task(self._wal_checkpoint())
            return
        self.stats["persist_on_thread"] += 1
        await self._db(services.note_updates_append, write=True, entries=entries)

    async def _wal_checkpoint(self) -> None:
        try:
            await self._db(journal.wal_checkpoint, write=True)
        except Exception:
            logger.exception("WAL checkpoint failed")

    async def _after_commit(self, room: Room, items: list[Pending]) -> None:
        """Everything in `items` is durable: fan it out and acknowledge it."""
        stored = [p for p in items if p.update != documents.EMPTY_UPDATE]
        if stored and not room.closed:
            await self._fan_out_local(room, stored)
            if self.fan_out_elsewhere:
                await self._fan_out_elsewhere(room, stored)
            room.unstored += len(stored)
            self._schedule_text_refresh(room)
            if room.unstored >= COMPACT_EVERY and not room.compacting:
                asyncio.create_task(self._compact(room))
        counts: dict[int, int] = defaultdict(int)
        for pending in items:
            counts[pending.peer_id] += 1
        for peer_id, count in counts.items():
            state = room.peers.get(peer_id)
            if state is None:
                continue
            state.acked += count
            if state.peer.wants_acks:
                await self._send(state, protocol.encode_saved(state.acked))

    async def _fan_out_elsewhere(self, room: Room, stored: list[Pending]) -> None:
        """Publish committed updates to the other processes with the note loaded, numbered so
        that a receiver notices a gap (and heals from the log)."""
        room.seq += 1
        merged = _merge([p.update for p in stored])
        try:
            await broadcast.send_note_update(
                note_id=room.note_id, origin=self.hub_id, seq=room.seq, update=merged
            )
            self.stats["fanout_sent"] += 1
        except Exception:
            # Other processes will heal from the log; our own peers already have it.
            logger.exception("fan-out failed", extra={"note": str(room.note_id)})

    async def _fan_out_local(self, room: Room, stored: list[Pending]) -> None:
        """Send committed updates to this process's other sockets of the note, never echoing."""
        by_peer: dict[int, list[bytes]] = defaultdict(list)
        for pending in stored:
            by_peer[pending.peer_id].append(pending.update)
        everything = protocol.encode_sync_update(_merge([p.update for p in stored]))
        for peer_id, state in list(room.peers.items()):
            own = by_peer.get(peer_id)
            if own is None:
                await self._send(state, everything)
            elif len(by_peer) > 1:
                others = [u for pid, ups in by_peer.items() if pid != peer_id for u in ups]
                await self._send(state, protocol.encode_sync_update(_merge(others)))

    async def _persist_failed(self, batch: list[Pending]) -> None:
        """The database refused the batch. The updates live only in memory: drop those notes and
        close their sockets so every client resyncs against what is really stored, and sends
        its unsaved changes again."""
        self.stats["persist_failures"] += 1
        rooms = {p.room.note_id: p.room for p in batch}
        for room in rooms.values():
            room.in_flight = 0
            if not room.closed:
                await self._close_room(room, CLOSE_SERVER_ERROR, "Saving failed; reconnecting")

    # --- derived state: text mirror and compaction ------------------------------------------

    def _schedule_text_refresh(self, room: Room) -> None:
        """Refresh the note's search and list mirror within TEXT_REFRESH_DELAY: every note
        changed meanwhile in one transaction, not one commit a note (with many busy notes,
        those commits queued keystrokes behind them on the persist thread)."""
        self._text_dirty[room.note_id] = room
        if self._text_refresh is None:
            self._text_refresh = asyncio.get_running_loop().call_later(
                TEXT_REFRESH_DELAY, lambda: asyncio.create_task(self._refresh_dirty_texts())
            )

    async def _refresh_dirty_texts(self) -> None:
        self._text_refresh = None
        rooms, self._text_dirty = list(self._text_dirty.values()), {}
        await self._refresh_texts([room for room in rooms if not room.closed])

    async def _refresh_texts(self, rooms: list[Room]) -> None:
        """Write the mirrors of `rooms`, a few notes per transaction: on the persist thread,
        keystroke commits queued meanwhile go between them instead of waiting for all."""
        for start in range(0, len(rooms), TEXT_REFRESH_CHUNK):
            await self._refresh_text_chunk(rooms[start : start + TEXT_REFRESH_CHUNK])

    async def _refresh_text_chunk(self, rooms: list[Room]) -> None:
        mirrors = [
            services.TextMirror(
                room.note_id, documents.doc_text(room.doc), documents.doc_title(room.doc)
            )
            for room in rooms
        ]
        try:
            await self._db(services.notes_text_refresh, write=True, mirrors=mirrors)
            listings = await self._db(
                selectors.note_listings, note_ids=[room.note_id for room in rooms]
            )
        except Exception:
            logger.exception("text refresh failed", extra={"notes": len(rooms)})
            return
        for room in rooms:
            listing = listings.get(room.note_id)
            if listing is not None:
                await broadcast.send_user_notes(
                    user_ids=room.audience, event={"kind": "note", "note": listing}
                )

    async def _compact(self, room: Room) -> None:
        room.compacting = True
        try:
            # The fold on a read thread, holding no lock; only its short record goes to the
            # persist thread, between keystroke commits (services.note_compact_prepare).
            draft = await self._db(services.note_compact_prepare, note_id=room.note_id)
            if draft is None:
                room.unstored = 0  # the log is empty: another process folded it
                return
            folded = await self._db(services.note_compact_record, write=True, draft=draft)
            if folded:
                room.unstored = max(0, room.unstored - folded)
                self.stats["compactions"] += 1
        except Exception:
            logger.exception("compaction failed", extra={"note": str(room.note_id)})
        finally:
            room.compacting = False

    # --- messages from other processes ------------------------------------------------------

    async def _receive_loop(self) -> None:
        handlers = {
            broadcast.NOTE_UPDATE: self.note_update,
            broadcast.NOTE_AWARENESS: self.note_awareness,
            broadcast.NOTE_DELETED: self.note_deleted,
            broadcast.NOTE_PRESENCE_QUERY: self.note_presence_query,
            broadcast.NOTE_ACCESS: self.note_access,
            broadcast.SESSION_ENDED: self.session_ended,
            broadcast.USER_NOTES: self.user_notes,
            broadcast.PRESENCE_QUERY: self.presence_query,
        }
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await self._rejoin_groups()
                continue
            handler = handlers.get(message.get("type"))
            if handler is None:
                logger.warning("unknown hub message %r", message.get("type"))
                continue
            try:
                await handler(message)
            except Exception:
                logger.exception("hub message failed", extra={"type": message.get("type")})

    async def _rejoin_groups(self) -> None:
        """After a failed receive, wait for the channel layer and join our groups again.

        A Redis restart forgets every group membership: without this, no other process's
        fan-out would reach us again, and edits would cross only at the periodic heal.
        group_add is idempotent. What was lost meanwhile is caught up at the next heal tick.
        """
        while True:
            await asyncio.sleep(1)
            try:
                await self.layer.group_add(broadcast.HUBS_GROUP, self.channel)
                for room in list(self.rooms.values()):
                    await self.layer.group_add(broadcast.note_group(room.note_id), self.channel)
                for user_id in list(self.listeners):
                    await self.layer.group_add(broadcast.user_group(user_id), self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("channel layer still unavailable: %s", exc)
                continue
            for room in list(self.rooms.values()):
                room.next_heal = 0.0
            logger.info("rejoined channel-layer groups", extra={"notes": len(self.rooms)})
            return

    async def note_update(self, message: dict) -> None:
        """Another process (or an HTTP edit) committed an update to a note we have loaded."""
        origin = message["origin"]
        if origin == self.hub_id:
            return
        if FAULT_DROP_FANOUT and random.random() < FAULT_DROP_FANOUT:
            self.stats["fanout_dropped"] += 1
            return
        room = self.rooms.get(uuid.UUID(message["note"]))
        if room is None or room.closed:
            return
        if origin != broadcast.EXTERNAL_ORIGIN:
            last = room.remote_seq.get(origin)
            room.remote_seq[origin] = max(last or 0, message["seq"])
            if last is not None and message["seq"] > last + 1:
                self.stats["fanout_gaps"] += 1
                room.next_heal = 0.0  # heal at the next tick
        update = message["update"]
        room.apply(update)
        room.text_bytes_bound += len(update)
        self.stats["fanout_received"] += 1
        await self._send_all(room, protocol.encode_sync_update(update))

    async def note_awareness(self, message: dict) -> None:
        if message["origin"] == self.hub_id:
            return
        room = self.rooms.get(uuid.UUID(message["note"]))
        if room is None or room.closed:
            return
        now = time.monotonic()
        entries = protocol.decode_awareness_payload(message["payload"])
        for entry in entries:
            known = room.awareness_clock.get(entry.client_id, -1)
            room.awareness_clock[entry.client_id] = max(known, entry.clock)
            current = room.awareness.get(entry.client_id)
            if current is not None and current.peer_id is not None:
                continue  # The client is on one of our sockets now; that socket speaks for it.
            if entry.gone:
                room.awareness.pop(entry.client_id, None)
            elif entry.clock >= known:
                room.awareness[entry.client_id] = AwarenessClient(entry, now, None)
        await self._send_all(room, protocol.encode_awareness(message["payload"]))

    async def note_presence_query(self, message: dict) -> None:
        """Another process loaded a note we have: tell it who is here."""
        if message["origin"] == self.hub_id:
            return
        room = self.rooms.get(uuid.UUID(message["note"]))
        if room is None or room.closed or not room.loaded.done():
            return
        local = [c.entry for c in room.awareness.values() if c.peer_id is not None]
        if local:
            await broadcast.send_note_awareness(
                note_id=room.note_id,
                origin=self.hub_id,
                payload=protocol.encode_awareness_payload(local),
            )

    async def note_access(self, message: dict) -> None:
        """Someone's rights on a note changed: their sockets here follow at once."""
        room = self.rooms.get(uuid.UUID(message["note"]))
        if room is None or room.closed:
            return
        users = set(message["users"])
        room.audience = await self._db(selectors.note_audience, note_id=room.note_id)
        for user_id in users:
            states = [s for s in room.peers.values() if s.peer.user_id == user_id]
            if not states:
                continue
            role = await self._db(_role_of_user, note_id=room.note_id, user_id=user_id)
            for state in states:
                if role is None or role == Role.NONE:
                    await self._close_peer(
                        room, state, CLOSE_ACCESS_REMOVED, "Your access to this note was removed"
                    )
                elif role != state.peer.role:
                    state.peer.role = role
                    if state.peer.wants_acks:
                        await self._send(state, protocol.encode_access(role))

    # --- live notes lists --------------------------------------------------------------------

    async def list_join(self, peer: ListPeer) -> None:
        """Called when a user's notes list connects: subscribe once per user per process."""
        await self.start()
        mine = self.listeners.setdefault(peer.user_id, {})
        if not mine:
            await self.layer.group_add(broadcast.user_group(peer.user_id), self.channel)
        mine[peer.peer_id] = peer
        # Presence is not stored: ask every process who is editing this user's notes.
        await broadcast.send_presence_query(user_id=peer.user_id)

    async def list_leave(self, peer: ListPeer) -> None:
        mine = self.listeners.get(peer.user_id)
        if mine is None or mine.pop(peer.peer_id, None) is None:
            return
        if not mine:
            del self.listeners[peer.user_id]
            with contextlib.suppress(Exception):
                await self.layer.group_discard(broadcast.user_group(peer.user_id), self.channel)

    async def user_notes(self, message: dict) -> None:
        """An event for one user's notes list: pass it to their open lists here."""
        for peer in list(self.listeners.get(message["user"], {}).values()):
            with contextlib.suppress(Exception):
                await peer.send_event(message["event"])

    async def presence_query(self, message: dict) -> None:
        user_id = message["user"]
        for room in list(self.rooms.values()):
            if room.peers and user_id in room.audience:
                await broadcast.send_user_notes(
                    user_ids=[user_id], event=self._presence_event(room)
                )

    def _presence_event(self, room: Room) -> dict:
        names = sorted({state.peer.user_name for state in room.peers.values()})
        return {"kind": "presence", "id": str(room.note_id), "hub": self.hub_id, "names": names}

    def _presence_changed(self, room: Room) -> None:
        """Someone joined or left: announce who is editing shortly, once for a whole crowd
        (each announcement lists everyone, so one per join would cost n * n)."""
        if room.presence_timer is None:
            room.presence_timer = asyncio.get_running_loop().call_later(
                PRESENCE_DEBOUNCE, lambda: asyncio.create_task(self._announce_presence(room))
            )

    async def _announce_presence(self, room: Room) -> None:
        """Tell the note's audience who is editing it here (lists merge across processes)."""
        if room.presence_timer is not None:
            room.presence_timer.cancel()
            room.presence_timer = None
        room.next_presence = time.monotonic() + PRESENCE_RENEW
        try:
            await broadcast.send_user_notes(
                user_ids=room.audience, event=self._presence_event(room)
            )
        except Exception:
            logger.exception("presence announcement failed", extra={"note": str(room.note_id)})

    async def session_ended(self, message: dict) -> None:
        """A user logged out: close every socket opened with that session."""
        for room in list(self.rooms.values()):
            for state in list(room.peers.values()):
                if state.peer.session_key == message["session"]:
                    await self._close_peer(room, state, CLOSE_LOGGED_OUT, "You logged out")

    async def _close_peer(self, room: Room, state: PeerState, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await state.peer.close_with(code, reason)

    async def note_deleted(self, message: dict) -> None:
        room = self.rooms.get(uuid.UUID(message["note"]))
        if room is not None and not room.closed:
            await self._close_room(room, CLOSE_NOTE_DELETED, "This note was deleted")

    # --- awareness out ----------------------------------------------------------------------

    def _schedule_awareness_flush(self, room: Room) -> None:
        if room.awareness_flush is None:
            wait = max(0.0, room.awareness_next - time.monotonic())
            room.awareness_flush = asyncio.get_running_loop().call_later(
                wait, lambda: asyncio.create_task(self._flush_awareness(room))
            )

    async def _flush_awareness(self, room: Room) -> None:
        """Pass on the note's presence changes: one frame per socket, whoever changed.

        Per socket and per change, a note with n sockets would cost n * n sends when n people
        join at once. Each socket gets every change but its own (its client would take a
        restamped clock for itself and announce it again, for ever).
        """
        room.awareness_flush = None
        pending, room.awareness_pending = room.awareness_pending, {}
        if not pending:
            return
        started = time.monotonic()
        # Changes that arrive while this flush awaits the channel layer wait for the next one.
        room.awareness_next = started + AWARENESS_INTERVAL
        payload = protocol.encode_awareness_payload([entry for entry, _ in pending.values()])
        if not room.closed:
            everything = protocol.encode_awareness(payload)
            own: dict[int, set[int]] = defaultdict(set)
            for client_id, (_, source) in pending.items():
                if source is not None:
                    own[source].add(client_id)
            for peer_id, state in list(room.peers.items()):
                mine = own.get(peer_id)
                if mine is None:
                    await self._send(state, everything)
                    continue
                others = [entry for cid, (entry, _) in pending.items() if cid not in mine]
                if others:
                    frame = protocol.encode_awareness(protocol.encode_awareness_payload(others))
                    await self._send(state, frame)
        try:
            if self.fan_out_elsewhere:
                await broadcast.send_note_awareness(
                    note_id=room.note_id, origin=self.hub_id, payload=payload
                )
        except Exception:
            logger.exception("awareness fan-out failed", extra={"note": str(room.note_id)})
        # A flush costs a send per socket: in a very large note, leave the loop at least as
        # long again for edits before the next one.
        spent = time.monotonic() - started
        room.awareness_next = time.monotonic() + max(AWARENESS_INTERVAL, spent)

    # --- healing ----------------------------------------------------------------------------

    async def _heal_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, HEAL_INTERVAL / 2))
            now = time.monotonic()
            for room in list(self.rooms.values()):
                if room.closed or not room.loaded.done() or room.loaded.exception():
                    continue
                try:
                    if now >= room.next_heal:
                        room.next_heal = now + HEAL_INTERVAL
                        await self._catch_up(room)
                    await self._resync(room, now)
                    await self._expire_awareness(room, now)
                    if room.peers and now >= room.next_presence:
                        await self._announce_presence(room)
                except Exception:
                    logger.exception("heal failed", extra={"note": str(room.note_id)})

    async def _resync(self, room: Room, now: float) -> None:
        """Send sync step 1 to the note's sockets whose turn it is, so they return anything
        we lack. Each socket has its own turn: sent to every socket of a note at once, the
        answers came back at once too, and 2,000 readers' answers stalled the process for
        a few hundred milliseconds every RESYNC_INTERVAL."""
        frame = None
        for state in list(room.peers.values()):
            if now >= state.next_resync:
                state.next_resync = now + RESYNC_INTERVAL
                frame = frame or protocol.encode_sync_step1(room.doc.get_state())
                await self._send(state, frame)

    async def _checkpoint_loop(self) -> None:
        """Take the automatic history checkpoints that are due, for every note (not just ours:
        an API edit to a note nobody has open needs one too); the note row lock keeps
        processes from doubling one.

        Each note is read on a read thread, then recorded on the persist thread, one note at
        a time, between keystroke commits. Recorded from another thread, each checkpoint's
        transaction made keystroke commits wait for SQLite's write lock, whose busy handler
        sleeps in steps of up to 100 ms: 200 notes due at once stalled live editing for
        hundreds of milliseconds.
        """
        interval = settings.NOTES_CHECKPOINT_SWEEP
        await asyncio.sleep(interval * random.random())
        while True:
            try:
                due = await self._db(services.notes_due_for_checkpoint)
            except Exception:
                logger.exception("checkpoint sweep failed")
                due = []
            for note_id in due:
                try:
                    draft = await self._db(services.revision_checkpoint_prepare, note_id=note_id)
                    if draft is not None and await self._db(
                        services.revision_checkpoint_record, write=True, draft=draft
                    ):
                        self.stats["checkpoints"] += 1
                except Exception:
                    logger.exception("checkpoint failed", extra={"note": str(note_id)})
            await asyncio.sleep(interval)

    async def _catch_up(self, room: Room) -> None:
        """Apply anything in the database log we have not seen, and pass it to our sockets."""
        stored = await self._db(
            services.note_updates_since, note_id=room.note_id, after=room.heal_after
        )
        # Read every entry twice across two rounds: an entry whose transaction committed just
        # after the previous read (ids are handed out before commit) is still caught.
        room.heal_after, room.heal_through = room.heal_through, stored.through
        if room.closed or not stored.updates:
            return
        if room.apply(*stored.updates):
            # What we missed, as stored (see document_update for why not the observed change).
            missed = _merge(stored.updates)
            room.text_bytes_bound += len(missed)
            self.stats["fanout_healed"] += 1
            logger.warning("healed missed updates", extra={"note": str(room.note_id)})
            await self._send_all(room, protocol.encode_sync_update(missed))

    async def _expire_awareness(self, room: Room, now: float) -> None:
        """Forget other processes' clients that stopped renewing (their process may be gone)."""
        stale = [
            self._restamp(room, protocol.AwarenessEntry(cid, 0, "null"))
            for cid, c in list(room.awareness.items())
            if c.peer_id is None and now - c.seen_at > AWARENESS_TIMEOUT
        ]
        if stale:
            for entry in stale:
                room.awareness.pop(entry.client_id, None)
            payload = protocol.encode_awareness_payload(stale)
            await self._send_all(room, protocol.encode_awareness(payload))

    # --- sending ----------------------------------------------------------------------------

    async def _send_all(self, room: Room, frame: bytes, *, exclude: int | None = None) -> None:
        """Send one frame to every local socket of the note (but `exclude`)."""
        for peer_id, state in list(room.peers.items()):
            if peer_id != exclude:
                await self._send(state, frame)

    async def _send(self, state: PeerState, frame: bytes) -> None:
        try:
            await state.peer.send_frame(frame)
            self.stats["frames_out"] += 1
        except Exception:
            logger.debug("send failed", extra={"peer": state.peer.peer_id})


def _merge(updates: list[bytes]) -> bytes:
    return updates[0] if len(updates) == 1 else merge_updates(*updates)


def _apply(doc: Doc, *updates: bytes, observe: bool = True) -> bool:
    """Apply updates; return whether the document changed (True, unobserved, if not
    `observe`). What pycrdt refuses (or a Yrs panic) is a protocol error."""
    changed = not observe

    def seen(_event) -> None:
        nonlocal changed
        changed = True

    subscription = doc.observe(seen) if observe else None
    try:
        for update in updates:
            doc.apply_update(update)
    except BaseException as exc:
        if not documents.update_apply_failed(exc):
            raise
        raise protocol.ProtocolError("update could not be applied") from None
    finally:
        if subscription is not None:
            doc.unobserve(subscription)
    return changed


def _role_of_user(*, note_id, user_id: int) -> Role | None:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return Role.NONE
    return selectors.note_role_of(note_id=note_id, user=user)


def _call_with_reconnect(fn, kwargs: dict):
    """Call `fn` on this worker thread's long-lived connection.

    A connection the database dropped (restart, failover, idle timeout) fails on first use:
    close it and try once more on a fresh one. Every service run here is safe to repeat:
    reads are reads, and appending a Yjs update twice leaves the document unchanged.
    """
    try:
        return fn(**kwargs)
    except (OperationalError, InterfaceError):
        connection.close()
        return fn(**kwargs)


def _close_connections_in_threads(executor: ThreadPoolExecutor, size: int) -> None:
    """Close the database connection held by each of the executor's threads."""
    barrier = threading.Barrier(size)

    def close() -> None:
        connections.close_all()
        barrier.wait(timeout=10)  # holds this thread so the next task lands on another one

    for future in [executor.submit(close) for _ in range(size)]:
        with contextlib.suppress(Exception):
            future.result(timeout=15)


_hub: Hub | None = None
_hub_loop: asyncio.AbstractEventLoop | None = None


def get_hub() -> Hub:
    """The hub of this process (one per event loop; tests run several loops in turn)."""
    global _hub, _hub_loop
    loop = asyncio.get_running_loop()
    if _hub is None or _hub_loop is not loop:
        _hub, _hub_loop = Hub(), loop
    return _hub
