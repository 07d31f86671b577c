"""Importing Markdown files as notes."""

from django.db import transaction
from pycrdt import Doc

from notes import documents
from notes.markdown_files import MarkdownFile
from notes.models import Note, NoteRevision
from notes.services import editing, revisions


def note_import(*, owner, document: MarkdownFile, source: str) -> Note:
    """Create a note holding an imported Markdown file, its first revision named after where
    it came from. All or nothing: a refused file leaves no empty note behind."""
    with transaction.atomic():
        note = editing.note_create(owner=owner, title=document.title)

        def fill(doc: Doc) -> None:
            documents.text_set(doc, document.text)
            documents.title_set(doc, note.title)

        editing.note_edit_apply(note=note, edit=fill, author=owner)
        revisions.revision_take(
            note_id=note.pk,
            kind=NoteRevision.Kind.MANUAL,
            name=f"Imported from {source}"[:200],
            user=owner,
        )
    return note
