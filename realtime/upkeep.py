"""
Derived state the engine keeps up behind the edits, never in their way: the searchable text
mirror of each busy note, compaction of each note's log, and automatic history checkpoints.

Each write runs on the persist thread between keystroke commits, and reads that take long run
on a read thread first (docs/architecture.md, "Storage" and "History").
"""

import asyncio
import logging
import random
from collections import defaultdict

from django.conf import settings

from notes import broadcast, documents, selectors
from notes.services import revisions, storage
from realtime.room import Room
from realtime.threads import DatabaseThreads

logger = logging.getLogger("realtime.upkeep")

TEXT_REFRESH_DELAY = settings.NOTES_TEXT_REFRESH_DELAY
COMPACT_EVERY = settings.NOTES_COMPACT_EVERY
# Notes whose text mirrors are written in one transaction (see TextMirrors.refresh).
TEXT_REFRESH_CHUNK = 20


class TextMirrors:
    """Keeps each note's plain-text mirror (search, lists, the admin) within
    TEXT_REFRESH_DELAY of its document, and tells notes lists."""

    def __init__(self, *, threads: DatabaseThreads) -> None:
        self.threads = threads
        self._dirty: dict = {}  # note id -> Room whose mirror is behind its document
        self._timer: asyncio.TimerHandle | None = None

    def changed(self, room: Room) -> None:
        """The note's document changed: refresh its mirror within TEXT_REFRESH_DELAY, with
        every note changed meanwhile in one transaction, not one commit a note (with many busy
        notes, those commits queued keystrokes behind them on the persist thread)."""
        self._dirty[room.note_id] = room
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                TEXT_REFRESH_DELAY, lambda: asyncio.create_task(self._refresh_dirty())
            )

    async def flush(self, room: Room) -> None:
        """The note is unloading: store its mirror now if it is behind."""
        if self._dirty.pop(room.note_id, None) is not None:
            await self.refresh([room])

    def cancel(self) -> None:
        """The hub is stopping: nothing scheduled may outlive it (unloads flush each note)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _refresh_dirty(self) -> None:
        self._timer = None
        rooms, self._dirty = list(self._dirty.values()), {}
        await self.refresh([room for room in rooms if not room.closed])

    async def refresh(self, rooms: list[Room]) -> None:
        """Write the mirrors of `rooms`, a few notes per transaction: on the persist thread,
        keystroke commits queued meanwhile go between them instead of waiting for all."""
        for start in range(0, len(rooms), TEXT_REFRESH_CHUNK):
            await self._refresh_chunk(rooms[start : start + TEXT_REFRESH_CHUNK])

    async def _refresh_chunk(self, rooms: list[Room]) -> None:
        mirrors = [
            storage.TextMirror(
                room.note_id, documents.doc_text(room.doc), documents.doc_title(room.doc)
            )
            for room in rooms
        ]
        try:
            await self.threads.run(storage.notes_text_refresh, write=True, mirrors=mirrors)
            listings = await self.threads.run(
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


class Compactor:
    """Folds a note's log into its snapshot every COMPACT_EVERY appends, and at unload."""

    def __init__(self, *, threads: DatabaseThreads, stats: defaultdict) -> None:
        self.threads = threads
        self.stats = stats

    def appended(self, room: Room, count: int) -> None:
        """`count` log entries were committed for the note."""
        room.unstored += count
        if room.unstored >= COMPACT_EVERY and not room.compacting:
            asyncio.create_task(self.compact(room))

    async def unloading(self, room: Room) -> None:
        if room.unstored and not room.compacting:
            await self.compact(room)

    async def compact(self, room: Room) -> None:
        room.compacting = True
        try:
            # The fold on a read thread, holding no lock; only its short record goes to the
            # persist thread, between keystroke commits (storage.note_compact_prepare).
            draft = await self.threads.run(storage.note_compact_prepare, note_id=room.note_id)
            if draft is None:
                room.unstored = 0  # the log is empty: another process folded it
                return
            folded = await self.threads.run(storage.note_compact_record, write=True, draft=draft)
            if folded:
                room.unstored = max(0, room.unstored - folded)
                self.stats["compactions"] += 1
        except Exception:
            logger.exception("compaction failed", extra={"note": str(room.note_id)})
        finally:
            room.compacting = False


class Checkpoints:
    """Takes the automatic history checkpoints that are due, for every note (not just the
    loaded ones: an API edit to a note nobody has open needs one too); the note row lock keeps
    processes from doubling one."""

    def __init__(self, *, threads: DatabaseThreads, stats: defaultdict) -> None:
        self.threads = threads
        self.stats = stats

    async def run(self) -> None:
        """Sweep every NOTES_CHECKPOINT_SWEEP seconds, for as long as the hub runs.

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
                due = await self.threads.run(revisions.notes_due_for_checkpoint)
            except Exception:
                logger.exception("checkpoint sweep failed")
                due = []
            for note_id in due:
                await self._checkpoint(note_id)
            await asyncio.sleep(interval)

    async def _checkpoint(self, note_id) -> None:
        try:
            draft = await self.threads.run(revisions.revision_checkpoint_prepare, note_id=note_id)
            if draft is not None and await self.threads.run(
                revisions.revision_checkpoint_record, write=True, draft=draft
            ):
                self.stats["checkpoints"] += 1
        except Exception:
            logger.exception("checkpoint failed", extra={"note": str(note_id)})
