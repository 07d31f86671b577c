"""The event loop's own SQLite connection for keystroke commits (notes.journal), and the
persist thread it hands a batch to whenever it cannot commit at once."""

import sqlite3
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from notes import documents, journal, services
from notes import hub as hub_module
from notes.models import NoteUpdate
from tests.factories import make_note, make_user
from tests.yclient import YClient, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite",
        reason="the event loop's own connection is for SQLite; PostgreSQL commits every batch "
        "on the persist thread (test_consumer.py covers that path)",
    ),
]


def _update(doc, chunk: str) -> bytes:
    return documents.edit_update(doc, lambda d: documents.text_append(d, chunk))


def _stored_text(note) -> str:
    return documents.doc_text(
        documents.doc_from_updates(services.note_state_load(note_id=note.pk).updates)
    )


def test_append_commits_durably_where_django_reads_it():
    note = make_note(owner=make_user(), text="")
    log = journal.journal_for_default_database()
    doc = documents.doc_new()
    try:
        assert log.append([services.Append(note.pk, _update(doc, "one"), note.owner_id)])
        assert log.append([services.Append(note.pk, _update(doc, " two"), None)])
    finally:
        log.close()
    assert _stored_text(note) == "one two"
    authors = list(NoteUpdate.objects.filter(note=note).order_by("id").values_list("author_id"))
    assert authors == [(note.owner_id,), (None,)]


def test_append_writes_nothing_while_another_connection_holds_the_write_lock():
    note = make_note(owner=make_user(), text="")
    log = journal.journal_for_default_database()
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        written = log.append([services.Append(note.pk, _update(documents.doc_new(), "x"), None)])
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        log.close()
    assert written is False
    assert waited < 1.0, "the event loop slept in SQLite's busy handler"
    assert not NoteUpdate.objects.filter(note=note).exists()


def test_append_writes_nothing_when_a_note_was_deleted_in_flight():
    kept = make_note(owner=make_user(), text="")
    gone = make_note(owner=make_user(), text="")
    gone_id = gone.pk
    gone.delete()
    doc = documents.doc_new()
    log = journal.journal_for_default_database()
    try:
        written = log.append(
            [
                services.Append(kept.pk, _update(doc, "a"), None),
                services.Append(gone_id, _update(doc, "b"), None),
            ]
        )
        # The connection is still usable afterwards.
        assert log.append([services.Append(kept.pk, _update(documents.doc_new(), "c"), None)])
    finally:
        log.close()
    assert written is False
    assert NoteUpdate.objects.filter(note=kept).count() == 1
    assert _stored_text(kept) == "c"


@pytest.fixture
async def owner():
    return await sync_to_async(make_user)("owner")


@pytest.fixture
async def note(owner):
    return await sync_to_async(make_note)(owner=owner, text="hello\n")


async def _pair(asgi_app, note, owner):
    cookie = await session_cookie(owner)
    a, b = YClient(asgi_app, note.pk, cookie=cookie), YClient(asgi_app, note.pk, cookie=cookie)
    assert await a.connect() and await b.connect()
    assert await a.until(lambda: a.text == "hello\n")
    assert await b.until(lambda: b.text == "hello\n")
    return a, b


@pytest.mark.usefixtures("fresh_hub")
async def test_keystrokes_commit_on_the_event_loop_not_the_persist_thread(
    asgi_app, note, owner, monkeypatch
):
    on_thread = []
    append_for_real = services.note_updates_append

    def append(**kwargs):
        on_thread.append(threading.current_thread().name)
        return append_for_real(**kwargs)

    monkeypatch.setattr(services, "note_updates_append", append)
    a, b = await _pair(asgi_app, note, owner)
    for word in ("one ", "two ", "three"):
        await a.append(word)
    assert await b.until(lambda: b.text == "hello\none two three")
    assert await sync_to_async(_stored_text)(note) == "hello\none two three"
    assert on_thread == []
    assert hub_module.get_hub().stats["persist_on_thread"] == 0
    await a.close()
    await b.close()


@pytest.mark.usefixtures("fresh_hub")
async def test_a_locked_database_sends_the_batch_through_the_persist_thread(asgi_app, note, owner):
    """Another writer holds the lock: the event loop does not wait for it; the persist thread
    does, and the edit is stored before the other socket sees it."""
    a, b = await _pair(asgi_app, note, owner)
    path = journal.journal_for_default_database().path
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    released.start()
    started = time.monotonic()
    await a.append("while locked")
    assert await b.until(lambda: b.text == "hello\nwhile locked")
    assert time.monotonic() - started >= 0.4, "sent before the lock was released"
    released.join()
    holder.close()
    assert hub_module.get_hub().stats["persist_on_thread"] >= 1
    assert await sync_to_async(_stored_text)(note) == "hello\nwhile locked"
    # Once the lock is free, the next batch commits on the event loop again.
    before = hub_module.get_hub().stats["persist_on_thread"]
    await a.append("!")
    assert await b.until(lambda: b.text == "hello\nwhile locked!")
    assert hub_module.get_hub().stats["persist_on_thread"] == before
    await a.close()
    await b.close()


@pytest.mark.usefixtures("fresh_hub")
async def test_wal_checkpoints_run_on_the_persist_thread(asgi_app, note, owner, monkeypatch):
    threads = []
    checkpoint_for_real = journal.wal_checkpoint

    def checkpoint():
        threads.append(threading.current_thread().name)
        checkpoint_for_real()

    monkeypatch.setattr(journal, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(journal, "wal_checkpoint", checkpoint)
    a, b = await _pair(asgi_app, note, owner)
    for i in range(7):
        await a.append(str(i))
        assert await b.until(lambda i=i: b.text.endswith(str(i)))
    assert await b.until(lambda: len(threads) >= 2)
    assert all(name.startswith("notes-persist") for name in threads), threads
    await a.close()
    await b.close()
