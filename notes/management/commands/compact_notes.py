"""manage.py compact_notes: fold update logs into snapshots and thin old checkpoints.

Safe while daphne runs: compaction locks each note, deletes only the log rows it folded, and
never touches revisions (they keep their own copy of the text).
"""

import uuid

from django.core.management.base import BaseCommand, CommandError

from notes.models import Note, NoteUpdate
from notes.services import revisions, storage


class Command(BaseCommand):
    help = "Compact every note's update log (or --note ID ...) and thin its old checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("--note", action="append", default=[], help="only this note id")

    def handle(self, *args, note=(), **options):
        try:
            note = [uuid.UUID(value) for value in note]
        except ValueError as error:
            raise CommandError(f"--note takes a note id (a UUID): {error}") from None
        ids = note or list(NoteUpdate.objects.values_list("note_id", flat=True).distinct())
        folded = thinned = compacted = 0
        for note_id in ids:
            entries = storage.note_compact(note_id=note_id)
            folded += entries
            compacted += bool(entries)
        for note_id in note or Note.objects.values_list("pk", flat=True):
            thinned += revisions.revisions_thin(note_id=note_id)
        self.stdout.write(
            self.style.SUCCESS(
                f"Compacted {compacted} note(s), folding {folded} log entries; "
                f"thinned {thinned} old checkpoint(s)."
            )
        )
