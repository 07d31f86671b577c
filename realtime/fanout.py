"""
Fan-out of committed document updates: to the note's other local peers, and to the other
processes that have the note loaded.

Each hub numbers its cross-process messages per note, so a receiver notices a gap (the channel
layer is at-most-once) and heals from the database log at its next tick (realtime.healing).
Edits made outside any editor (HTTP, admin) arrive the same way, with origin "external".
"""

import logging
import random
import uuid
from collections import defaultdict

from django.conf import settings

from notes import broadcast
from realtime import protocol
from realtime.room import Room, Sender, merge

logger = logging.getLogger("realtime.fanout")

# Fault injection for tests: the share of incoming fan-out messages to drop (0 in production).
FAULT_DROP_FANOUT = settings.NOTES_FAULT_DROP_FANOUT


class FanOut:
    """Sends committed updates on, locally and across processes, and takes in other's."""

    def __init__(self, *, hub_id: str, rooms: dict, sender: Sender, stats: defaultdict) -> None:
        self.hub_id = hub_id
        self.rooms = rooms  # the hub's loaded notes, by id
        self.sender = sender
        self.stats = stats
        # Our own note fan-out is for other processes; with none, it is skipped (see start).
        self.elsewhere = True

    def start(self) -> None:
        """Called when the hub starts: is there another process to tell?"""
        self.elsewhere = broadcast.layer_reaches_other_processes()

    async def committed(self, room: Room, stored: list) -> None:
        """A batch of the note's updates is durable (realtime.commits.Pending items)."""
        await self._local(room, stored)
        if self.elsewhere:
            await self._publish(room, stored)

    async def _local(self, room: Room, stored: list) -> None:
        """Send committed updates to this process's other peers of the note, never echoing."""
        by_peer: dict[int, list[bytes]] = defaultdict(list)
        for pending in stored:
            by_peer[pending.peer_id].append(pending.update)
        everything = protocol.encode_sync_update(merge([p.update for p in stored]))
        for peer_id, state in list(room.peers.items()):
            own = by_peer.get(peer_id)
            if own is None:
                await self.sender.send(state, everything)
            elif len(by_peer) > 1:
                others = [u for pid, ups in by_peer.items() if pid != peer_id for u in ups]
                await self.sender.send(state, protocol.encode_sync_update(merge(others)))

    async def _publish(self, room: Room, stored: list) -> None:
        """Publish committed updates to the other processes with the note loaded, numbered so
        that a receiver notices a gap (and heals from the log)."""
        room.seq += 1
        try:
            await broadcast.send_note_update(
                note_id=room.note_id,
                origin=self.hub_id,
                seq=room.seq,
                update=merge([p.update for p in stored]),
            )
            self.stats["fanout_sent"] += 1
        except Exception:
            # Other processes will heal from the log; our own peers already have it.
            logger.exception("fan-out failed", extra={"note": str(room.note_id)})

    async def note_update(self, message: dict) -> None:
        """Another process (or an HTTP edit) committed an update to a note: apply it if we
        have the note loaded."""
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
        await self.sender.send_all(room, protocol.encode_sync_update(update))
