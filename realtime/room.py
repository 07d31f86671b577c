"""
A room: one loaded note in this process, its authoritative document and its local peers.

A room is state, not behaviour: the hub (realtime.hub) opens and closes rooms, and each part of
the engine keeps its per-note state here, in the fields its docstring names. Sending to a
room's peers is here too, because every part of the engine does it.
"""

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from pycrdt import Doc, merge_updates

from notes import documents
from realtime import protocol, yupdate
from realtime.peer import Peer

logger = logging.getLogger("realtime.room")


@dataclass
class PeerState:
    """The engine's bookkeeping for one local peer of a room."""

    peer: Peer
    received: int = 0  # document messages received (step 2 and update)
    acked: int = 0  # of those, how many are durably handled
    awareness_ids: set[int] = field(default_factory=set)
    next_resync: float = 0.0  # when this peer is next sent sync step 1 (realtime.healing)


@dataclass
class AwarenessClient:
    entry: protocol.AwarenessEntry
    seen_at: float
    peer_id: int | None  # the local peer it came through; None for other processes


@dataclass
class Room:
    """One loaded note in this process."""

    note_id: uuid.UUID
    doc: Doc
    loaded: asyncio.Future
    peers: dict[int, PeerState] = field(default_factory=dict)
    closed: bool = False
    unload: asyncio.TimerHandle | None = None  # realtime.hub: the grace after the last leaves
    # realtime.presence
    awareness: dict[int, AwarenessClient] = field(default_factory=dict)
    awareness_clock: dict[int, int] = field(default_factory=dict)  # highest clock per client
    # Presence changes not yet passed on: client id -> (entry, the local peer it came from,
    # None for a client that left); sent together, at most every AWARENESS_INTERVAL.
    awareness_pending: dict[int, tuple[protocol.AwarenessEntry, int | None]] = field(
        default_factory=dict
    )
    awareness_flush: asyncio.TimerHandle | None = None
    awareness_next: float = 0.0
    # realtime.fanout
    seq: int = 0  # our fan-out messages for this note
    remote_seq: dict[str, int] = field(default_factory=dict)
    # realtime.healing
    heal_after: int = 0  # catch-up reads the log after this id...
    heal_through: int = 0  # ...and this is what the last read reached
    next_heal: float = 0.0
    # realtime.commits and realtime.upkeep
    in_flight: int = 0  # updates queued or being committed
    unstored: int = 0  # log entries appended since the last compaction
    compacting: bool = False
    # realtime.listfeed
    audience: list[int] = field(default_factory=list)  # who may see the note
    next_presence: float = 0.0
    presence_timer: asyncio.TimerHandle | None = None
    # realtime.intake
    text_bytes_bound: int = 0  # the text's UTF-8 size is at most this (see Intake.check_size)
    # The whole document encoded, for joiners that have nothing yet (see Intake.sync_step1),
    # and its state vector decoded (see clocks); each None once the document changes.
    full_update: bytes | None = None
    _clocks: dict[int, int] | None = None

    @property
    def ready(self) -> bool:
        """Loaded, and not closed since: what periodic work may touch."""
        return not self.closed and self.loaded.done() and self.loaded.exception() is None

    def cancel_timers(self) -> None:
        """Drop whatever is scheduled for this note: the hub is stopping."""
        for timer in (self.awareness_flush, self.unload, self.presence_timer):
            if timer is not None:
                timer.cancel()
        self.awareness_flush = self.unload = self.presence_timer = None

    def apply(self, *updates: bytes, observe: bool = True) -> bool:
        """Apply updates to the loaded document (see apply_updates); whether it changed. With
        observe=False this returns True and the caller tells from the state vector.

        The cached encodings are dropped only if the document changed (or Yrs refused an update
        after integrating part of it). Catch-up re-reads log entries the document already holds
        every HEAL_INTERVAL; dropping them then made the next joiner encode the whole document
        again (1.4 ms on the event loop for the join storm's 300 KB note) and the next update
        decode the state vector again, for nothing."""
        try:
            changed = apply_updates(self.doc, *updates, observe=observe)
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


def apply_updates(doc: Doc, *updates: bytes, observe: bool = True) -> bool:
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


def merge(updates: list[bytes]) -> bytes:
    return updates[0] if len(updates) == 1 else merge_updates(*updates)


class Sender:
    """Sends frames to a room's local peers, counting them; a peer that fails to take one is
    left to its transport, which closes it."""

    def __init__(self, stats: defaultdict) -> None:
        self.stats = stats

    async def send(self, state: PeerState, frame: bytes) -> None:
        try:
            await state.peer.link.send_frame(frame)  # the link itself: one coroutine less
            self.stats["frames_out"] += 1
        except Exception:
            logger.debug("send failed", extra={"peer": state.peer.peer_id})

    async def send_all(self, room: Room, frame: bytes, *, exclude: int | None = None) -> None:
        """Send one frame to every local peer of the note (but `exclude`)."""
        for peer_id, state in list(room.peers.items()):
            if peer_id != exclude:
                await self.send(state, frame)
