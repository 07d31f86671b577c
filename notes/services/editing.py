"""
Creating, editing, renaming and deleting notes from the server side (pages, admin, HTTP API,
import). An edit runs against the stored CRDT document and is appended to its log like any
client's, so live editors receive it after commit.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from pycrdt import Doc

from notes import broadcast, documents, selectors
from notes.models import Note
from notes.services import storage


class NoteTooLarge(ValueError):
    """The edit would make the note larger than NOTES_MAX_NOTE_BYTES."""


def note_create(*, owner, title: str = "Untitled") -> Note:
    """Create an empty note owned by `owner`."""
    with transaction.atomic():
        note = Note.objects.create(owner=owner, title=storage.note_title_clean(title))
        note_id = note.pk
        transaction.on_commit(lambda: note_listing_announce(note_id=note_id, user_ids=[owner.pk]))
    return note


def note_listing_announce(*, note_id, user_ids) -> None:
    """Update these users' live notes lists: the note as it is now, or gone for those who
    cannot see it (any more). Called after commit."""
    listing = selectors.note_listing(note_id=note_id)
    audience = set(selectors.note_audience(note_id=note_id))
    seeing = [u for u in user_ids if u in audience]
    gone = [u for u in user_ids if u not in audience]
    if listing is not None and seeing:
        broadcast.user_notes(user_ids=seeing, event={"kind": "note", "note": listing})
    if gone:
        broadcast.user_notes(user_ids=gone, event={"kind": "removed", "id": str(note_id)})


def note_delete(*, note: Note) -> None:
    """Delete the note, its update log and everything else that hangs on it."""
    note_id = note.pk
    with transaction.atomic():
        audience = selectors.note_audience(note_id=note_id)
        note.delete()
        transaction.on_commit(lambda: broadcast.note_deleted(note_id=note_id))
        transaction.on_commit(
            lambda: broadcast.user_notes(
                user_ids=audience, event={"kind": "removed", "id": str(note_id)}
            )
        )


def note_lock_and_load(*, note_id) -> tuple[Doc, int]:
    """Lock the note row (server-side edits and revisions of one note go one at a time) and
    load its durable document; also returns the highest log id it includes."""
    note = Note.objects.select_for_update().only("pk", "snapshot_through").get(pk=note_id)
    stored = storage.note_state_load(note_id=note_id)
    return documents.doc_from_updates(stored.updates), max(stored.through, note.snapshot_through)


def note_edit_commit(*, note_id, doc: Doc, edit: Callable[[Doc], None], author) -> bytes:
    """Apply `edit` to the locked, loaded `doc`; append its update, refresh the text mirror
    and, after commit, send it to live editors and notes lists."""
    update = documents.edit_update(doc, edit)
    if update == documents.EMPTY_UPDATE:
        return update
    size = len(documents.doc_text(doc).encode("utf-8"))
    if size > settings.NOTES_MAX_NOTE_BYTES:
        raise NoteTooLarge(
            f"The note would be {size:,} bytes; the limit is "
            f"{settings.NOTES_MAX_NOTE_BYTES:,} bytes."
        )
    author_id = author.pk if author is not None and author.is_authenticated else None
    storage.note_updates_append(
        entries=[storage.Append(note_id=note_id, data=update, author_id=author_id)]
    )
    storage.note_text_refresh(
        note_id=note_id, text=documents.doc_text(doc), title=documents.doc_title(doc)
    )
    transaction.on_commit(lambda: broadcast.note_update_external(note_id=note_id, update=update))
    transaction.on_commit(
        lambda: note_listing_announce(
            note_id=note_id, user_ids=selectors.note_audience(note_id=note_id)
        )
    )
    return update


def note_edit_apply(*, note: Note, edit: Callable[[Doc], None], author) -> bytes:
    """Apply a server-side edit (admin, HTTP API, rename, import) as a CRDT change.

    The edit runs against the stored document, its update is appended to the log like any
    client's, and live editors receive it after commit. Returns the update (EMPTY_UPDATE if
    the edit changed nothing).
    """
    with transaction.atomic():
        doc, _ = note_lock_and_load(note_id=note.pk)
        update = note_edit_commit(note_id=note.pk, doc=doc, edit=edit, author=author)
    note.refresh_from_db(fields=["title", "content_text", "preview", "updated_at"])
    return update


def note_text_replace(*, note: Note, text: str, author) -> bytes:
    """Make the note's content `text`, as a minimal diff against what it holds now."""
    return note_edit_apply(note=note, edit=lambda doc: documents.text_set(doc, text), author=author)


def note_text_append(*, note: Note, text: str, author) -> bytes:
    return note_edit_apply(
        note=note, edit=lambda doc: documents.text_append(doc, text), author=author
    )


def note_rename(*, note: Note, title: str, author=None) -> Note:
    """Give the note a new title; open editors see it at once."""
    title = storage.note_title_clean(title)
    note_edit_apply(note=note, edit=lambda doc: documents.title_set(doc, title), author=author)
    return note
