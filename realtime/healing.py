"""
Healing: lost messages never leave a replica diverged.

Channel-layer delivery is at-most-once, so the database log is the source of truth. Every
loaded note catches up from the log every HEAL_INTERVAL (sooner when fan-out showed a gap), and
every peer is sent sync step 1 every RESYNC_INTERVAL, on its own turn, so that its client
returns anything the server lacks. docs/architecture.md, "Healing", gives the bound.
"""

import logging
import random
import time
from collections import defaultdict

from django.conf import settings

from notes.services import storage
from realtime import protocol
from realtime.room import PeerState, Room, Sender, merge
from realtime.threads import DatabaseThreads

logger = logging.getLogger("realtime.healing")

HEAL_INTERVAL = settings.NOTES_HEAL_INTERVAL
RESYNC_INTERVAL = settings.NOTES_RESYNC_INTERVAL


class Healer:
    """Catches loaded notes up from the log, and asks peers for what we may lack."""

    def __init__(self, *, threads: DatabaseThreads, sender: Sender, stats: defaultdict) -> None:
        self.threads = threads
        self.sender = sender
        self.stats = stats

    @staticmethod
    def loaded(room: Room, through: int) -> None:
        """The note was loaded up to log id `through`: catch-up starts there, at a random
        phase so that notes loaded together do not all read the log at once."""
        room.heal_after = room.heal_through = through
        room.next_heal = time.monotonic() + HEAL_INTERVAL * (0.5 + random.random())

    @staticmethod
    def joined(state: PeerState) -> None:
        """A peer joined: its first resync comes at most RESYNC_INTERVAL from now, at its own
        phase (clients drop connections that stay silent)."""
        state.next_resync = time.monotonic() + RESYNC_INTERVAL * random.random()

    async def tick(self, room: Room, now: float) -> None:
        """Called about once a second per loaded note."""
        if now >= room.next_heal:
            room.next_heal = now + HEAL_INTERVAL
            await self.catch_up(room)
        await self._resync(room, now)

    async def catch_up(self, room: Room) -> None:
        """Apply anything in the database log we have not seen, and pass it to our peers."""
        stored = await self.threads.run(
            storage.note_updates_since, note_id=room.note_id, after=room.heal_after
        )
        # Read every entry twice across two rounds: an entry whose transaction committed just
        # after the previous read (ids are handed out before commit) is still caught.
        room.heal_after, room.heal_through = room.heal_through, stored.through
        if room.closed or not stored.updates:
            return
        if room.apply(*stored.updates):
            # What we missed, as stored (see realtime.intake for why not the observed change).
            missed = merge(stored.updates)
            room.text_bytes_bound += len(missed)
            self.stats["fanout_healed"] += 1
            logger.warning("healed missed updates", extra={"note": str(room.note_id)})
            await self.sender.send_all(room, protocol.encode_sync_update(missed))

    async def _resync(self, room: Room, now: float) -> None:
        """Send sync step 1 to the note's peers whose turn it is, so they return anything
        we lack. Each peer has its own turn: sent to every peer of a note at once, the
        answers came back at once too, and 2,000 readers' answers stalled the process for
        a few hundred milliseconds every RESYNC_INTERVAL."""
        frame = None
        for state in list(room.peers.values()):
            if now >= state.next_resync:
                state.next_resync = now + RESYNC_INTERVAL
                frame = frame or protocol.encode_sync_step1(room.doc.get_state())
                await self.sender.send(state, frame)
