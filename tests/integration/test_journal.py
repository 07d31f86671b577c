"""The event loop's own database connection for keystroke commits (realtime.journal), and the
persist thread it hands a batch to whenever it cannot commit at once."""

import sqlite3
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from notes import documents
from notes.models import NoteUpdate
from notes.services import storage
from realtime import hub as hub_module
from realtime import journal
from tests.factories import make_note, make_user
from tests.spies import threads_calling
from tests.yclient import YClient, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite's write lock and WAL checkpoints; PostgreSQL has neither to work around",
)


def _update(doc, chunk: str) -> bytes:
    return documents.edit_update(doc, lambda d: documents.text_append(d, chunk))


@sync_to_async
def _stored_text(note) -> str:
    return storage.note_current_text(note_id=note.pk)


@sync_to_async
def _log(note) -> list[tuple]:
    return list(NoteUpdate.objects.filter(note=note).order_by("id").values_list("author_id"))


@pytest.fixture
async def owner():
    return await sync_to_async(make_user)("owner")


@pytest.fixture
async def note(owner):
    return await sync_to_async(make_note)(owner=owner, text="hello\n")


@pytest.fixture
async def log():
    opened = journal.journal_for_default_database()
    assert opened is not None
    yield opened
    await opened.close()


async def test_append_commits_durably_where_django_reads_it(log, owner):
    note = await sync_to_async(make_note)(owner=owner, text="")
    doc = documents.doc_new()
    assert await log.append([storage.Append(note.pk, _update(doc, "one"), owner.pk)])
    assert await log.append([storage.Append(note.pk, _update(doc, " two"), None)])
    assert await _stored_text(note) == "one two"
    assert await _log(note) == [(owner.pk,), (None,)]


async def test_append_writes_nothing_when_a_note_was_deleted_in_flight(log, owner):
    kept = await sync_to_async(make_note)(owner=owner, text="")
    gone = await sync_to_async(make_note)(owner=owner, text="")
    gone_id = gone.pk
    await sync_to_async(gone.delete)()
    doc = documents.doc_new()
    written = await log.append(
        [
            storage.Append(kept.pk, _update(doc, "a"), None),
            storage.Append(gone_id, _update(doc, "b"), None),
        ]
    )
    assert written is False
    assert await _log(kept) == []
    # The connection is still usable afterwards.
    assert await log.append([storage.Append(kept.pk, _update(documents.doc_new(), "c"), None)])
    assert await _stored_text(kept) == "c"


@sqlite_only
async def test_append_writes_nothing_while_another_connection_holds_the_write_lock(log, note):
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        update = _update(documents.doc_new(), "x")
        written = await log.append([storage.Append(note.pk, update, None)])
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert written is False
    assert waited < 1.0, "the event loop slept in SQLite's busy handler"
    assert len(await _log(note)) == 1  # only make_note's own


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
    on_thread = threads_calling(monkeypatch, storage, "note_updates_append")
    a, b = await _pair(asgi_app, note, owner)
    for word in ("one ", "two ", "three"):
        await a.append(word)
    assert await b.until(lambda: b.text == "hello\none two three")
    assert await _stored_text(note) == "hello\none two three"
    assert on_thread == []
    assert hub_module.get_hub().stats["persist_on_thread"] == 0
    await a.close()
    await b.close()


@sqlite_only
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
    assert await _stored_text(note) == "hello\nwhile locked"
    # Once the lock is free, the next batch commits on the event loop again.
    before = hub_module.get_hub().stats["persist_on_thread"]
    await a.append("!")
    assert await b.until(lambda: b.text == "hello\nwhile locked!")
    assert hub_module.get_hub().stats["persist_on_thread"] == before
    await a.close()
    await b.close()


@sqlite_only
@pytest.mark.usefixtures("fresh_hub")
async def test_wal_checkpoints_run_on_the_persist_thread(asgi_app, note, owner, monkeypatch):
    monkeypatch.setattr(journal, "CHECKPOINT_EVERY", 3)
    threads = threads_calling(monkeypatch, journal, "wal_checkpoint")
    a, b = await _pair(asgi_app, note, owner)
    for i in range(7):
        await a.append(str(i))
        assert await b.until(lambda i=i: b.text.endswith(str(i)))
    assert await b.until(lambda: len(threads) >= 2)
    assert all(name.startswith("notes-persist") for name in threads), threads
    await a.close()
    await b.close()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a PostgreSQL server ending the journal's session"
)
@pytest.mark.usefixtures("fresh_hub")
async def test_a_lost_connection_sends_the_batch_through_the_persist_thread_and_reconnects(
    asgi_app, note, owner
):
    a, b = await _pair(asgi_app, note, owner)
    await a.append("first")
    assert await b.until(lambda: b.text == "hello\nfirst")
    hub = hub_module.get_hub()
    backend = hub.commits._journal._connection.info.backend_pid

    @sync_to_async
    def terminate() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])

    await terminate()
    await a.append(" second")
    assert await b.until(lambda: b.text == "hello\nfirst second")
    assert hub.stats["persist_on_thread"] == 1
    await a.append(" third")
    assert await b.until(lambda: b.text == "hello\nfirst second third")
    assert hub.stats["persist_on_thread"] == 1, "the journal did not reconnect"
    assert hub.commits._journal._connection.info.backend_pid != backend
    assert await _stored_text(note) == "hello\nfirst second third"
    await a.close()
    await b.close()
