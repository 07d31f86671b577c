"""The room engine through its transport-neutral interface (realtime.peer, realtime.session),
with real pycrdt documents, the real database and the real channel layer: what a second
transport gets by implementing a Link, and nothing else."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async

from notes import broadcast, documents
from notes.models import NoteUpdate
from notes.permissions import Role
from notes.services import editing, sharing, storage
from realtime import hub as hub_module
from realtime import protocol
from tests.factories import make_user
from tests.yclient import EngineClient, YClient, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_hub")]


@pytest.fixture
async def guest():
    return await sync_to_async(make_user)("guest")


async def _peer(note, user, role=Role.OWNER, *, text="hello\n") -> EngineClient:
    client = EngineClient(hub_module.get_hub(), note_id=note.pk, user=user, role=role)
    await client.connect()
    assert await client.until(lambda: client.text == text)
    return client


@sync_to_async
def _stored_text(note) -> str:
    stored = storage.note_state_load(note_id=note.pk)
    return documents.doc_text(documents.doc_from_updates(stored.updates))


@sync_to_async
def _log_count(note) -> int:
    return NoteUpdate.objects.filter(note=note).count()


async def test_two_peers_converge_and_every_edit_is_stored_before_the_other_sees_it(
    shared_note, owner
):
    a = await _peer(shared_note, owner)
    b = await _peer(shared_note, owner)
    assert a.role == Role.OWNER  # the access message, sent because the peer wants acks
    before = await _log_count(shared_note)
    received = a.updates_received
    await a.append("world")
    assert await b.until(lambda: b.text == "hello\nworld")
    assert await _log_count(shared_note) == before + 1
    assert await a.until(lambda: a.saved == a.sent)
    await a.pump(0.2)
    assert a.updates_received == received, "the sender got its own edit back"
    assert await _stored_text(shared_note) == "hello\nworld"
    await a.close()
    await b.close()


async def test_a_websocket_client_and_an_engine_peer_share_one_note(asgi_app, shared_note, owner):
    socket = YClient(asgi_app, shared_note.pk, cookie=await session_cookie(owner))
    assert await socket.connect()
    peer = await _peer(shared_note, owner)
    assert await socket.until(lambda: socket.text == "hello\n")
    await peer.append("from the engine")
    await socket.append("!")
    expected = {"hello\nfrom the engine!", "hello\n!from the engine"}
    assert await socket.until(lambda: socket.text in expected)
    assert await peer.until(lambda: peer.text == socket.text)
    await peer.set_awareness(7, 1, '{"user":{"name":"E"}}')
    assert await socket.until(lambda: 7 in socket.awareness)
    await socket.close()
    await peer.close()


async def test_a_viewers_updates_change_nothing_and_store_nothing(shared_note, owner, guest):
    viewer = await _peer(shared_note, guest, role=Role.VIEWER)
    watcher = await _peer(shared_note, owner)
    before = await _log_count(shared_note)
    await viewer.append("vandalism")
    await watcher.pump(0.3)
    assert watcher.text == "hello\n"
    assert await _log_count(shared_note) == before
    assert await _stored_text(shared_note) == "hello\n"
    await viewer.close()
    await watcher.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x07", 4400),  # a sync message of an unknown kind
        (None, 4400),  # a message that is not binary
    ],
)
async def test_a_bad_message_closes_only_its_peer_with_a_clear_code(
    shared_note, owner, frame, code
):
    bad = await _peer(shared_note, owner)
    good = await _peer(shared_note, owner)
    await bad.send(frame)
    assert await bad.until(lambda: bad.close_code is not None)
    assert bad.close_code == code
    assert bad.close_reason
    await good.append("still here")
    assert await good.until(lambda: good.saved == good.sent)
    assert await _stored_text(shared_note) == "hello\nstill here"
    await good.close()


async def test_limits_answer_with_their_close_codes(shared_note, owner, settings):
    settings.NOTES_MAX_MESSAGE_BYTES = 64
    big = await _peer(shared_note, owner)
    await big.append("x" * 200)
    assert await big.until(lambda: big.close_code is not None)
    assert big.close_code == 1009
    settings.NOTES_MAX_MESSAGE_BYTES = 512 * 1024
    settings.NOTES_MAX_NOTE_BYTES = 20
    large = await _peer(shared_note, owner)
    await large.append("far more than twenty bytes")
    assert await large.until(lambda: large.close_code is not None)
    assert large.close_code == 4413
    assert await _stored_text(shared_note) == "hello\n"


async def test_access_changes_reach_engine_peers(shared_note, owner, guest):
    await sync_to_async(sharing.note_share)(note=shared_note, user=guest, role="editor")
    editor = await _peer(shared_note, guest, role=Role.EDITOR)
    await sync_to_async(sharing.note_share)(note=shared_note, user=guest, role="viewer")
    assert await editor.until(lambda: editor.role == Role.VIEWER)
    await sync_to_async(sharing.note_unshare)(note=shared_note, user=guest)
    assert await editor.until(lambda: editor.close_code is not None)
    assert editor.close_code == 4403


async def test_an_outside_edit_reaches_engine_peers(shared_note, owner):
    peer = await _peer(shared_note, owner)
    await sync_to_async(editing.note_text_append)(
        note=shared_note, text="typed in the admin", author=owner
    )
    assert await peer.until(lambda: peer.text == "hello\ntyped in the admin")
    await peer.close()


async def test_a_new_hub_loads_what_the_last_one_stored(shared_note, owner):
    peer = await _peer(shared_note, owner)
    await peer.append("kept")
    assert await peer.until(lambda: peer.saved == peer.sent)
    await peer.close()
    await hub_module.get_hub().stop()
    hub_module._hub = None
    again = await _peer(shared_note, owner, text="hello\nkept")
    assert await _stored_text(shared_note) == "hello\nkept"
    await again.close()


async def test_a_password_change_closes_the_users_other_logins_only(shared_note, owner):
    kept = EngineClient(
        hub_module.get_hub(), note_id=shared_note.pk, user=owner, role=Role.OWNER, session_key="a"
    )
    other = EngineClient(
        hub_module.get_hub(), note_id=shared_note.pk, user=owner, role=Role.OWNER, session_key="b"
    )
    for client in (kept, other):
        await client.connect()
        assert await client.until(lambda c=client: c.text == "hello\n")
    await broadcast.send_user_sessions_ended(user_id=owner.pk, keep_session_key="a")
    assert await other.until(lambda: other.close_code is not None)
    assert other.close_code == 4401
    await kept.append("still editing")
    assert await kept.until(lambda: kept.saved == kept.sent)
    assert kept.close_code is None
    await kept.close()


async def test_presence_says_who_the_peer_really_is(shared_note, owner, guest):
    viewer = await _peer(shared_note, guest, role=Role.VIEWER)
    watcher = await _peer(shared_note, owner)
    claim = {"user": {"id": owner.pk, "name": "owner", "colorLight": "#ff000040"}}
    await viewer.set_awareness(5, 1, json.dumps(claim))
    assert await watcher.until(lambda: 5 in watcher.awareness)
    bound = {"user": {"id": guest.pk, "name": "guest", "colorLight": "#ff000040"}}
    assert json.loads(watcher.awareness[5]) == bound
    await viewer.close()
    await watcher.close()


async def test_a_peer_closed_while_its_note_loads_is_never_greeted_nor_joined(
    shared_note, owner, monkeypatch
):
    """Logged out while the note was still loading: the peer is closed with 4401, and the
    join that finishes afterwards neither greets it nor lets it in."""
    loading, release = threading.Event(), threading.Event()
    stored = storage.note_state_load

    def slow_load(**kwargs):
        loading.set()
        release.wait(10)
        return stored(**kwargs)

    monkeypatch.setattr(storage, "note_state_load", slow_load)
    client = EngineClient(
        hub_module.get_hub(), note_id=shared_note.pk, user=owner, role=Role.OWNER, session_key="s"
    )
    joining = asyncio.create_task(client.session.join())
    assert await asyncio.to_thread(loading.wait, 10)
    await broadcast.send_session_ended(session_key="s")
    assert await client.until(lambda: client.close_code is not None)
    assert client.close_code == 4401
    release.set()
    await joining
    assert not client.peer.joined
    frames = len(client.frames)
    await client.send(protocol.encode_sync_step1(b"\x00"))
    await client.pump(0.3)
    assert len(client.frames) == frames, "a closed peer was sent the note"
