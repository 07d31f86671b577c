"""Durable CRDT state: load, append, catch-up and compaction against the real database."""

import threading

import pytest
from django.db import connection

from notes import documents
from notes.models import Note, NoteUpdate
from notes.services import editing, storage
from tests.factories import make_note, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _stored_text(note) -> str:
    return documents.doc_text(
        documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    )


def _client_update(doc, chunk: str) -> bytes:
    return documents.edit_update(doc, lambda d: documents.text_append(d, chunk))


def _type(note, doc, *chunks: str) -> None:
    """A client appends each chunk to its replica `doc`; each update is logged on its own."""
    for chunk in chunks:
        storage.note_updates_append(
            entries=[storage.Append(note.pk, _client_update(doc, chunk), None)]
        )


def test_compaction_folds_the_log_and_keeps_the_text():
    note = make_note(owner=make_user(), text="")
    doc = documents.doc_new()
    _type(note, doc, *(f"{i}," for i in range(50)))
    assert NoteUpdate.objects.filter(note=note).count() == 50
    assert storage.note_compact(note_id=note.pk) == 50
    assert NoteUpdate.objects.filter(note=note).count() == 0
    assert _stored_text(note) == "".join(f"{i}," for i in range(50))
    assert Note.objects.get(pk=note.pk).snapshot_through > 0


def test_compaction_never_loses_an_update_appended_concurrently():
    note = make_note(owner=make_user(), text="")
    doc = documents.doc_new()
    updates = [_client_update(doc, f"<{i}>") for i in range(300)]
    errors = []
    done = threading.Event()

    def append_all():
        try:
            for update in updates:
                storage.note_updates_append(entries=[storage.Append(note.pk, update, None)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    def compact_repeatedly():
        try:
            while not done.is_set():
                storage.note_compact(note_id=note.pk)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append_all), threading.Thread(target=compact_repeatedly)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert _stored_text(note) == "".join(f"<{i}>" for i in range(300))
    storage.note_compact(note_id=note.pk)
    assert _stored_text(note) == "".join(f"<{i}>" for i in range(300))


def test_catch_up_returns_the_snapshot_when_compaction_passed_the_cursor():
    note = make_note(owner=make_user(), text="before")
    cursor = storage.note_state_load(note_id=note.pk).through
    doc = documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    _type(note, doc, "+a")
    storage.note_compact(note_id=note.pk)
    _type(note, doc, "+b")

    since = storage.note_updates_since(note_id=note.pk, after=cursor)
    replica = documents.doc_new()
    for update in since.updates:
        replica.apply_update(update)
    assert documents.doc_text(replica) == "before+a+b"
    assert since.through > cursor


def test_append_skips_notes_deleted_in_flight():
    note = make_note(owner=make_user(), text="")
    gone = make_note(owner=make_user(), text="")
    gone_id = gone.pk
    gone.delete()
    doc = documents.doc_new()
    written = storage.note_updates_append(
        entries=[
            storage.Append(note.pk, _client_update(doc, "a"), None),
            storage.Append(gone_id, _client_update(doc, "b"), None),
        ]
    )
    assert written == 1
    assert NoteUpdate.objects.filter(note=note).count() == 1
    assert not NoteUpdate.objects.filter(note_id=gone_id).exists()


def test_text_replace_is_a_minimal_diff_and_never_duplicates():
    note = make_note(owner=make_user(), text="alpha\nbeta\n")
    editing.note_text_replace(note=note, text="alpha\nbeta\ngamma\n", author=None)
    editing.note_text_replace(note=note, text="alpha\nbeta\ngamma\n", author=None)
    assert _stored_text(note) == "alpha\nbeta\ngamma\n"
    note.refresh_from_db()
    assert note.content_text == "alpha\nbeta\ngamma\n"


def test_a_fold_overtaken_by_another_compaction_is_dropped():
    note = make_note(owner=make_user(), text="")
    doc = documents.doc_new()
    _type(note, doc, *(f"{i}," for i in range(5)))
    slow = storage.note_compact_prepare(note_id=note.pk)
    _type(note, doc, "late,")
    assert storage.note_compact(note_id=note.pk) == 6
    through = Note.objects.get(pk=note.pk).snapshot_through

    # The slow fold started from the old snapshot and lacks "late,": recording it would lose it.
    assert storage.note_compact_record(draft=slow) == 0
    assert Note.objects.get(pk=note.pk).snapshot_through == through
    assert _stored_text(note) == "0,1,2,3,4,late,"


def test_a_fold_keeps_updates_appended_after_it_read_the_log():
    note = make_note(owner=make_user(), text="")
    doc = documents.doc_new()
    _type(note, doc, "a")
    draft = storage.note_compact_prepare(note_id=note.pk)
    _type(note, doc, "b")
    assert storage.note_compact_record(draft=draft) == 1
    assert NoteUpdate.objects.filter(note=note).count() == 1
    assert _stored_text(note) == "ab"


def test_nothing_to_fold_prepares_nothing():
    note = make_note(owner=make_user(), text="")
    assert storage.note_compact_prepare(note_id=note.pk) is None
    assert storage.note_compact(note_id=note.pk) == 0
