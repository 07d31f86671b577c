"""The note WebSocket through the real ASGI app: auth, Origin, sync, fan-out, persistence."""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from pycrdt import Text

from notes import broadcast, documents
from notes.models import Note, NoteUpdate
from realtime import protocol
from tests.factories import make_user
from tests.spies import threads_calling
from tests.yclient import YClient, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_hub")]


@pytest.fixture
async def cookie(owner):
    return await session_cookie(owner)


async def _client(asgi_app, note, cookie, **kwargs) -> YClient:
    client = YClient(asgi_app, note.pk, cookie=cookie, **kwargs)
    assert await client.connect()
    return client


@sync_to_async
def _log_count(note) -> int:
    return NoteUpdate.objects.filter(note=note).count()


@sync_to_async
def _stored_text(note) -> str:
    from notes.services import storage

    return documents.doc_text(
        documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    )


async def test_anonymous_is_refused_with_4401(asgi_app, shared_note):
    client = YClient(asgi_app, shared_note.pk)
    assert await client.connect()
    await client.pump(1)
    assert client.close_code == 4401


async def test_stranger_is_refused_with_4403(asgi_app, shared_note):
    stranger = await sync_to_async(make_user)("mallory")
    client = YClient(asgi_app, shared_note.pk, cookie=await session_cookie(stranger))
    assert await client.connect()
    await client.pump(1)
    assert client.close_code == 4403
    assert client.text == ""


async def test_unknown_note_is_refused_with_4404(asgi_app, cookie):
    client = YClient(asgi_app, "5b0c7b8e-9a6f-4f55-9d1a-0c1e2d3f4a5b", cookie=cookie)
    assert await client.connect()
    await client.pump(1)
    assert client.close_code == 4404


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", None])
async def test_foreign_or_missing_origin_never_connects(asgi_app, shared_note, cookie, origin):
    client = YClient(asgi_app, shared_note.pk, cookie=cookie, origin=origin)
    connected = await client.connect()
    assert not connected


async def test_joiner_gets_the_stored_state_in_its_first_sync(asgi_app, shared_note, cookie):
    client = await _client(asgi_app, shared_note, cookie)
    assert await client.until(lambda: client.text == "hello\n")
    # The server also sent its own step 1, so the client can return what the server lacks.
    assert any(f[:2] == bytes((protocol.MSG_SYNC, protocol.SYNC_STEP1)) for f in client.frames)
    await client.close()


async def test_edit_reaches_the_other_socket_after_commit_and_is_not_echoed(
    asgi_app, shared_note, cookie
):
    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await b.until(lambda: b.text == "hello\n")
    before = await _log_count(shared_note)
    a_updates = a.updates_received

    await a.append("world\n")
    assert await b.until(lambda: b.text == "hello\nworld\n")
    # Persist before broadcast: by the time B has it, it is in the database.
    assert await _log_count(shared_note) == before + 1
    await a.pump(0.3)
    assert a.updates_received == a_updates, "the sender got its own edit back"
    await a.close()
    await b.close()


async def test_a_failed_commit_sends_nothing_and_closes_the_note_for_a_clean_resync(
    asgi_app, shared_note, cookie, monkeypatch
):
    from notes.services import storage
    from realtime import journal

    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await b.until(lambda: b.text == "hello\n")

    def refuse(**_kwargs):
        raise RuntimeError("disk full")

    async def cannot_commit_at_once(self, entries):
        return False

    # Both ways to commit fail: the event loop's own connection, then the persist thread.
    for journal_class in (journal.SQLiteJournal, journal.PostgresJournal):
        monkeypatch.setattr(journal_class, "append", cannot_commit_at_once)
    monkeypatch.setattr(storage, "note_updates_append", refuse)
    await a.append("unsaved")
    assert await a.until(lambda: a.close_code == 1011)
    assert await b.until(lambda: b.close_code == 1011)
    assert b.text == "hello\n", "an edit that was never stored reached another client"
    monkeypatch.undo()
    # Nothing was stored, and a client that connects now is told exactly that.
    c = await _client(asgi_app, shared_note, cookie)
    assert await c.until(lambda: c.text == "hello\n")
    assert await _stored_text(shared_note) == "hello\n"
    await c.close()


async def test_checkpoints_are_written_by_the_persist_thread_between_commits(
    asgi_app, shared_note, cookie, settings, monkeypatch
):
    """The one writer: on SQLite, a checkpoint written from another thread held the write
    lock that keystroke commits then slept on in SQLite's busy handler."""
    from notes.services import revisions

    settings.NOTES_CHECKPOINT_SWEEP = 0.05
    settings.NOTES_CHECKPOINT_IDLE = 0
    writers = threads_calling(monkeypatch, revisions, "revision_checkpoint_record")
    a = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await a.append("checkpoint me")

    @sync_to_async
    def revision_texts() -> list[str]:
        return [r.text for r in shared_note.revisions.all()]

    async def checkpointed() -> bool:
        for _ in range(100):
            if "hello\ncheckpoint me" in await revision_texts():
                return True
            await a.pump(0.05)
        return False

    assert await checkpointed()
    assert writers and all(name.startswith("notes-persist") for name in writers), writers
    await a.close()


async def test_every_socket_is_resynced_on_its_own_turn_not_all_at_once(
    asgi_app, shared_note, cookie, monkeypatch
):
    """Each socket gets sync step 1 again within the interval. The sockets of one note get it
    at different heal ticks: all at once, 2,000 readers' answers stalled the process."""
    from realtime import healing

    monkeypatch.setattr(healing, "RESYNC_INTERVAL", 3.0)
    step1 = bytes((protocol.MSG_SYNC, protocol.SYNC_STEP1))
    clients = [await _client(asgi_app, shared_note, cookie) for _ in range(16)]
    for client in clients:
        await client.until(lambda client=client: client.text == "hello\n")
    joined = {id(c): sum(f[:2] == step1 for f in c.frames) for c in clients}
    resynced: dict[int, float] = {}
    deadline = time.monotonic() + 8
    while len(resynced) < len(clients) and time.monotonic() < deadline:
        await asyncio.gather(*(client.pump(0.01) for client in clients))
        for client in clients:
            if id(client) not in resynced and (
                sum(f[:2] == step1 for f in client.frames) > joined[id(client)]
            ):
                resynced[id(client)] = time.monotonic()
    assert len(resynced) == len(clients), "some socket was never sent step 1 again"
    # Heal ticks are a second apart; 16 random turns in a 3 s interval share one tick with
    # a probability of about 1e-7.
    assert max(resynced.values()) - min(resynced.values()) > 0.5
    for client in clients:
        await client.close()


async def test_acks_count_durably_stored_messages(asgi_app, shared_note, cookie):
    a = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    for word in ["one ", "two ", "three "]:
        await a.append(word)
    # Sync step 2 answering the server's step 1 counts too.
    assert await a.until(lambda: a.saved == a.sent)
    assert a.sent == 4
    assert await _stored_text(shared_note) == "hello\none two three "
    await a.close()


async def test_stock_clients_without_acks_get_no_saved_messages(asgi_app, shared_note, cookie):
    a = await _client(asgi_app, shared_note, cookie, acks=False)
    await a.append("x")
    await a.pump(0.5)
    assert all(frame[0] != protocol.MSG_SAVED for frame in a.frames)
    await a.close()


async def test_text_mirror_follows_the_document(asgi_app, shared_note, cookie):
    a = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await a.append("searchable words")

    @sync_to_async
    def mirrored():
        note = Note.objects.get(pk=shared_note.pk)
        return note.content_text, note.preview

    for _ in range(30):
        text, preview = await mirrored()
        if "searchable" in text:
            break
        await asyncio.sleep(0.1)
    assert text == "hello\nsearchable words"
    assert preview == "hello searchable words"
    await a.close()


async def test_title_in_the_document_reaches_the_database(asgi_app, shared_note, cookie):
    a = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await a.edit(lambda doc: documents.title_set(doc, "Renamed live"))
    for _ in range(30):
        note = await Note.objects.aget(pk=shared_note.pk)
        if note.title == "Renamed live":
            break
        await asyncio.sleep(0.1)
    assert note.title == "Renamed live"
    await a.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x02\x05abc", 4400),  # truncated payload
        (b"\x07\x00", 4400),  # unknown message type
        (b"\x00\x09\x00", 4400),  # unknown sync type
        (b"\x00\x02\x03\x01\x02\x03", 4400),  # not a Yjs update
        (b"\x00\x02\x00\x00", 4400),  # zero-length update is not an update
        (b"\x00\x00\x01\x00\xff", 4400),  # trailing bytes
    ],
)
async def test_bad_frames_close_only_that_socket_and_change_nothing(
    asgi_app, shared_note, cookie, frame, code
):
    good = await _client(asgi_app, shared_note, cookie)
    bad = await _client(asgi_app, shared_note, cookie)
    await good.until(lambda: good.text == "hello\n")
    await bad.until(lambda: bad.text == "hello\n")
    before = await _log_count(shared_note)
    await bad.send(frame)
    await bad.pump(1)
    assert bad.close_code == code
    assert await _log_count(shared_note) == before
    await good.append("still fine")
    assert await good.until(lambda: good.saved == good.sent)
    assert await _stored_text(shared_note) == "hello\nstill fine"
    await good.close()


def _edit_by(client_id: int, base: bytes, chunk: str) -> tuple[bytes, bytes]:
    """A client with document `base` appends `chunk`; returns (its update, its full state)."""
    doc = documents.doc_new(client_id=client_id)
    doc.apply_update(base)
    state = doc.get_state()
    documents.text_append(doc, chunk)
    return doc.get_update(state), doc.get_update()


async def test_an_edit_that_arrives_before_its_dependency_is_stored_and_sent_once_complete(
    asgi_app, shared_note, cookie
):
    """Two tabs share edits over BroadcastChannel, so tab B can type after tab A's edit before
    the server has it, and B's update can arrive first (on another socket, even another
    process). The server holds it until A's arrives; then both reach storage and every peer."""
    watcher = await _client(asgi_app, shared_note, cookie)
    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    assert await watcher.until(lambda: watcher.text == "hello\n")
    base = documents.doc_encode(watcher.doc)
    a_update, a_state = _edit_by(5001, base, "A")
    b_update, _ = _edit_by(5002, a_state, "B")
    await b.send(protocol.encode_sync_update(b_update))
    await b.pump(0.3)
    assert watcher.text == "hello\n"  # nothing to show yet: B's edit needs A's
    await a.send(protocol.encode_sync_update(a_update))
    assert await watcher.until(lambda: watcher.text == "hello\nAB")
    assert await a.until(lambda: a.saved >= 1)
    assert await _stored_text(shared_note) == "hello\nAB"
    assert a.close_code is None and b.close_code is None
    for client in (watcher, a, b):
        await client.close()


async def test_a_resync_answer_that_repeats_the_delete_set_stores_and_sends_nothing(
    asgi_app, shared_note, cookie
):
    """Stock clients answer the server's periodic step 1 with everything it lacks plus their
    whole delete set. When that holds nothing new it must not reach the log or anyone else
    (on a long-edited note the delete set is large, and every client answers every 20 s)."""
    editor = await _client(asgi_app, shared_note, cookie)
    watcher = await _client(asgi_app, shared_note, cookie)
    assert await editor.until(lambda: editor.text == "hello\n")
    await editor.edit(lambda doc: documents.text_set(doc, "help\n"))  # deletes "lo"
    assert await watcher.until(lambda: watcher.text == "help\n")
    assert await editor.until(lambda: editor.saved == editor.sent)
    rows = await _log_count(shared_note)
    received = watcher.updates_received
    answer = editor.doc.get_update(watcher.doc.get_state())  # no structs, the delete set
    assert answer != documents.EMPTY_UPDATE
    await editor.send(protocol.encode_sync_step2(answer))
    editor.sent += 1
    assert await editor.until(lambda: editor.saved == editor.sent)
    await watcher.pump(0.3)
    assert await _log_count(shared_note) == rows
    assert watcher.updates_received == received
    await editor.close()
    await watcher.close()


async def test_an_update_yrs_refuses_halfway_stays_consistent_everywhere(
    asgi_app, shared_note, cookie
):
    """Yrs can integrate the first struct of an update and then refuse the next (here: a parent
    that is a string, not a type). The sender is closed with 4400; what Yrs kept is stored and
    reaches the other sockets, so memory, the log and every replica agree."""
    watcher = await _client(asgi_app, shared_note, cookie)
    bad = await _client(asgi_app, shared_note, cookie)
    assert await watcher.until(lambda: watcher.text == "hello\n")
    insert = b"\x04\x01" + protocol.write_var_string("content") + protocol.write_var_string("AB")
    child_of_a_string = b"\x04\x00" + protocol.write_var_uint(9) + b"\x00"
    child_of_a_string += protocol.write_var_string("CD")
    update = b"\x01\x02" + protocol.write_var_uint(9) + b"\x00" + insert + child_of_a_string
    await bad.send(protocol.encode_sync_update(update + b"\x00"))
    await bad.pump(1)
    assert bad.close_code == 4400
    assert await watcher.until(lambda: watcher.text == "ABhello\n")
    assert await _stored_text(shared_note) == "ABhello\n"
    late = await _client(asgi_app, shared_note, cookie)
    assert await late.until(lambda: late.text == "ABhello\n")
    await watcher.close()
    await late.close()


async def test_text_frame_is_refused(asgi_app, shared_note, cookie):
    client = await _client(asgi_app, shared_note, cookie)
    await client.comm.send_to(text_data="hello")
    await client.pump(1)
    assert client.close_code == 4400
    assert "Text frames" in client.close_reason


async def test_oversized_message_is_refused_with_1009(asgi_app, shared_note, cookie, settings):
    settings.NOTES_MAX_MESSAGE_BYTES = 1000
    client = await _client(asgi_app, shared_note, cookie)
    before = await _log_count(shared_note)
    await client.append("x" * 2000)
    await client.pump(1)
    assert client.close_code == 1009
    assert "exceeds the limit" in client.close_reason
    assert await _log_count(shared_note) == before


async def test_presence_reaches_others_joiners_and_is_cleared_on_close(
    asgi_app, shared_note, cookie, owner
):
    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    await a.set_awareness(111, 1, '{"user":{"name":"A"}}')
    assert await b.until(lambda: 111 in b.awareness)
    # A joiner sees everyone at once.
    c = await _client(asgi_app, shared_note, cookie)
    assert await c.until(lambda: 111 in c.awareness)
    # As the server relays it: `user` is who the socket really is (realtime.presence).
    assert json.loads(c.awareness[111]) == {"user": {"id": owner.pk, "name": "owner"}}
    # When A's socket closes, its client ids are removed for everyone at once.
    await a.close()
    assert await b.until(lambda: 111 not in b.awareness, timeout=2)
    assert await c.until(lambda: 111 not in c.awareness, timeout=2)
    await b.close()
    await c.close()


async def test_a_reconnecting_client_is_visible_at_once(asgi_app, shared_note, cookie):
    """Stock clients re-send their state with the clock peers already saw; the server
    restamps it so peers do not ignore it until the next renewal."""
    watcher = await _client(asgi_app, shared_note, cookie)
    first = await _client(asgi_app, shared_note, cookie)
    await first.set_awareness(333, 4, '{"user":{"name":"R"}}')
    assert await watcher.until(lambda: 333 in watcher.awareness)
    await first.close()
    assert await watcher.until(lambda: 333 not in watcher.awareness, timeout=2)
    again = await _client(asgi_app, shared_note, cookie)
    await again.set_awareness(333, 4, '{"user":{"name":"R"}}')  # same clock as before
    assert await watcher.until(lambda: 333 in watcher.awareness, timeout=2)
    await watcher.close()
    await again.close()


async def test_relayed_presence_is_not_taken_as_the_relayers_own(
    asgi_app, shared_note, cookie, owner
):
    """y-websocket clients re-send every awareness change they receive. Such an echo of another
    process's client must not be fanned out again (two processes would bounce it for ever), nor
    make the relaying socket its owner (closing that socket would remove someone else)."""
    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    state = '{"user":{"name":"Elsewhere"}}'
    entry = protocol.AwarenessEntry(444, 7, state)
    await broadcast.send_note_awareness(
        note_id=shared_note.pk,
        origin="another-process",
        payload=protocol.encode_awareness_payload([entry]),
    )
    assert await a.until(lambda: 444 in a.awareness)
    assert await b.until(lambda: 444 in b.awareness)
    frames_before = len(a.frames)
    # b relays what it received, as a stock client does, and so does a "gone" it saw.
    await b.set_awareness(444, 7, state)
    await b.send(
        protocol.encode_awareness(
            protocol.encode_awareness_payload([protocol.AwarenessEntry(555, 3, "null")])
        )
    )
    await a.pump(0.5)
    relayed = [f for f in a.frames[frames_before:] if f[0] == protocol.MSG_AWARENESS]
    assert relayed == []
    assert a.awareness_clock[444] == 7
    # The relayer leaving does not take the other process's client with it.
    await b.close()
    await a.pump(0.5)
    assert a.awareness.get(444) == state
    # A newer clock is the client itself, moved here from another process: it is taken.
    c = await _client(asgi_app, shared_note, cookie)
    await c.set_awareness(444, 8, '{"user":{"name":"Moved"}}')
    moved = {"user": {"id": owner.pk, "name": "owner"}}  # bound to c's user by the server
    assert await a.until(lambda: json.loads(a.awareness.get(444, "null")) == moved)
    await c.close()
    assert await a.until(lambda: 444 not in a.awareness, timeout=2)
    await a.close()


async def test_many_joiners_presence_goes_out_in_a_few_frames_per_socket(
    asgi_app, shared_note, cookie, monkeypatch
):
    """Twenty people announcing themselves at once reach each socket as a few frames (per note,
    not per joiner: n joiners would otherwise cost n * n sends), and nobody gets their own
    state echoed back."""
    from realtime import presence

    interval = 0.2
    monkeypatch.setattr(presence, "AWARENESS_INTERVAL", interval)
    watcher = await _client(asgi_app, shared_note, cookie)
    joiners = [await _client(asgi_app, shared_note, cookie) for _ in range(20)]
    for client in [watcher, *joiners]:
        await client.pump(0.05)
    before = len(watcher.frames)
    started = time.monotonic()
    for i, joiner in enumerate(joiners):
        await joiner.set_awareness(1000 + i, 1, f'{{"user":{{"name":"J{i}"}}}}')
    everyone = {1000 + i for i in range(20)}
    assert await watcher.until(lambda: set(watcher.awareness) == everyone)
    span = time.monotonic() - started
    frames = [f for f in watcher.frames[before:] if f[0] == protocol.MSG_AWARENESS]
    # At most one frame per interval while the server works through them, however slow this
    # machine is: not one per joiner.
    assert 1 <= len(frames) <= span / interval + 2, (len(frames), span)
    assert len(frames) < len(joiners)
    for i, joiner in enumerate(joiners[:3]):
        assert await joiner.until(lambda j=joiner, i=i: set(j.awareness) == everyone - {1000 + i})
        assert 1000 + i not in joiner.awareness_clock  # never echoed its own entry
    for client in [watcher, *joiners]:
        await client.close()


async def test_awareness_is_coalesced_per_socket(asgi_app, shared_note, cookie, owner, monkeypatch):
    from realtime import presence

    interval = 0.2
    monkeypatch.setattr(presence, "AWARENESS_INTERVAL", interval)
    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    await b.pump(0.3)
    frames_before = len(b.frames)
    # 60 cursor moves as fast as the test can send them...
    started = time.monotonic()
    for clock in range(1, 61):
        await a.set_awareness(222, clock, f'{{"cursor":{clock}}}')
    last = {"cursor": 60, "user": {"id": owner.pk, "name": "owner"}}
    assert await b.until(lambda: json.loads(b.awareness.get(222, "null")) == last)
    span = time.monotonic() - started
    awareness_frames = [f for f in b.frames[frames_before:] if f[0] == protocol.MSG_AWARENESS]
    # ...reach the other socket as at most one frame per interval while the server works
    # through them (however slow this machine is), the first at once, the last the latest.
    assert 1 <= len(awareness_frames) <= span / interval + 2, (len(awareness_frames), span)
    assert len(awareness_frames) < 60
    assert json.loads(b.awareness[222]) == last
    await a.close()
    await b.close()


async def test_joiners_get_the_document_as_it_is_now_after_every_kind_of_change(
    asgi_app, shared_note, cookie
):
    """Joiners that have nothing share one encoding of the whole document (notes.hub), which
    must follow every change: an insertion, and a deletion alone, which leaves the state
    vector as it was."""

    def delete_start(doc):
        del doc.get(documents.CONTENT, type=Text)[0:3]

    a = await _client(asgi_app, shared_note, cookie)
    assert await a.until(lambda: a.text == "hello\n")
    for change in (None, lambda: a.append("world"), lambda: a.edit(delete_start)):
        if change is not None:
            await change()
            assert await a.until(lambda: a.saved == a.sent)
        expected = a.text
        joiner = await _client(asgi_app, shared_note, cookie)
        assert await joiner.until(lambda j=joiner, e=expected: j.text == e), (joiner.text, expected)
        await joiner.close()
    assert expected == "lo\nworld"
    await a.close()


async def test_note_survives_reload_without_duplication(asgi_app, shared_note, cookie):
    a = await _client(asgi_app, shared_note, cookie)
    await a.until(lambda: a.text == "hello\n")
    await a.append("more")
    assert await a.until(lambda: a.saved == a.sent)
    await a.close()
    from realtime import hub as hub_module

    await hub_module._hub.stop()
    hub_module._hub = None
    # A client that kept its state reconnects to a fresh process: nothing doubles.
    again = YClient(asgi_app, shared_note.pk, cookie=cookie)
    again.doc.apply_update(a.doc.get_update())
    assert await again.connect()
    await again.pump(0.5)
    assert again.text == "hello\nmore"
    assert await _stored_text(shared_note) == "hello\nmore"
    await again.close()


@pytest.mark.parametrize(
    ("origin", "host", "connects"),
    [
        (b"http://127.0.0.1", b"127.0.0.1", True),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://127.0.0.1:9999", b"127.0.0.1:8000", False),
        (b"http://localhost:8000", b"127.0.0.1:8000", False),
        (b"http://evil.example", b"evil.example", False),
    ],
)
async def test_origin_policy_at_the_handshake(
    asgi_app, shared_note, cookie, origin, host, connects
):
    client = YClient(asgi_app, shared_note.pk, cookie=cookie, origin=origin, host=host)
    assert await client.connect() is connects
    if connects:
        await client.close()


async def test_catching_up_on_entries_the_note_holds_keeps_the_joiners_encoding(
    asgi_app, shared_note, cookie
):
    """Catch-up re-reads the newest log entries every heal tick. Applying them changes
    nothing, and must not throw away the encoding joiners get (re-encoding a large note is
    work on the event loop that every socket of the process waits for)."""
    from realtime import hub as hub_module

    a = await _client(asgi_app, shared_note, cookie)
    b = await _client(asgi_app, shared_note, cookie)
    assert await a.until(lambda: a.text == "hello\n")
    assert await b.until(lambda: b.text == "hello\n")
    await a.append("x")
    assert await b.until(lambda: b.text == "hello\nx")
    joiner = await _client(asgi_app, shared_note, cookie)
    assert await joiner.until(lambda: joiner.text == "hello\nx")
    hub = hub_module.get_hub()
    room = hub.rooms[shared_note.pk]
    cached = room.full_update
    assert cached is not None
    await hub.healer.catch_up(room)  # reads "x" again: already in the document
    await hub.healer.catch_up(room)
    assert room.full_update is cached
    await a.append("y")
    assert await b.until(lambda: b.text == "hello\nxy")
    assert room.full_update is None, "a change kept the old encoding"
    for client in (a, b, joiner):
        await client.close()


async def test_a_stopped_hub_leaves_nothing_scheduled_behind(asgi_app, shared_note, cookie):
    from realtime import hub as hub_module
    from realtime import listfeed, upkeep

    a = await _client(asgi_app, shared_note, cookie)
    await a.set_awareness(555, 1, '{"user":{"name":"A"}}')
    await a.append("x")
    await a.close()  # schedules a presence announcement, an awareness flush, a text refresh
    hub = hub_module.get_hub()
    ran = []
    scheduled = ((hub.feed, "_announce"), (hub.presence, "_flush"), (hub.mirrors, "_refresh_dirty"))
    for part, name in scheduled:

        async def record(*args, name=name):
            ran.append(name)

        setattr(part, name, record)
    await hub.stop()
    hub_module._hub = None
    await asyncio.sleep(max(listfeed.PRESENCE_DEBOUNCE, upkeep.TEXT_REFRESH_DELAY) + 0.2)
    assert ran == []
