"""
Update intake: what a peer's sync messages do to a room's document.

Step 1 is answered with what the peer lacks. An update (step 2 or update) is checked for shape
before Yrs sees it, refused if it would make the note too large, applied, and queued for
commit as exactly what the document gained (docs/architecture.md, "What is stored for a
client's update").
"""

from django.conf import settings

from notes import documents
from notes.services.editing import NoteTooLarge
from realtime import protocol, yupdate
from realtime.commits import CommitPipeline
from realtime.peer import Peer
from realtime.room import Room, apply_updates

EMPTY_STATE_VECTOR = b"\x00"  # a client that has nothing yet


class Intake:
    """Applies peers' sync messages to rooms and queues what they change for commit."""

    def __init__(self, commits: CommitPipeline) -> None:
        self.commits = commits

    @staticmethod
    def sync_step1(room: Room, state_vector: bytes) -> bytes:
        """A client sent its state vector: the step 2 frame with everything it lacks."""
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
        return protocol.encode_sync_step2(missing)

    def document_update(self, room: Room, peer: Peer, update: bytes) -> None:
        """A client sent an update (sync step 2 or update): apply, then queue it for commit."""
        state = room.peers.get(peer.peer_id)
        if state is None or not peer.can_write:
            return  # Read-only peers never change the note.
        if update != documents.EMPTY_UPDATE:
            shape = yupdate.check_update(update)  # before Yrs sees it: some shapes break a doc
            before = room.clocks()
            if shape.is_known_to(before):
                update = documents.EMPTY_UPDATE  # a duplicate: nothing to apply, store or send
            else:
                self.check_size(room, update)
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
                        self.commits.enqueue(room, peer, gained)
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
        self.commits.enqueue(room, peer, update)

    @staticmethod
    def check_size(room: Room, update: bytes) -> None:
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
        apply_updates(trial, update)
        size = len(documents.doc_text(trial).encode("utf-8"))
        if size > limit:
            raise NoteTooLarge(f"The note would be {size:,} bytes; the limit is {limit:,} bytes")
