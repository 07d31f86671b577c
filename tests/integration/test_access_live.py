"""Access on open sockets: viewers cannot write, and changes to access apply at once."""

import json
import random

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from notes import documents
from notes.models import NoteUpdate, ShareLink
from notes.services import editing, sharing, storage
from realtime import protocol
from tests.factories import make_note, make_user, share_note
from tests.yclient import YClient, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_hub")]


@pytest.fixture
async def setup():
    owner = await sync_to_async(make_user)("owner")
    member = await sync_to_async(make_user)("member")
    note = await sync_to_async(make_note)(owner=owner, title="Live", text="base\n")
    return note, owner, member


async def _connect(asgi_app, note, user) -> YClient:
    client = YClient(asgi_app, note.pk, cookie=await session_cookie(user))
    assert await client.connect()
    assert await client.until(lambda: client.text == "base\n" and client.role is not None)
    return client


@sync_to_async
def _stored(note) -> tuple[int, str]:
    state = storage.note_state_load(note_id=note.pk)
    text = documents.doc_text(documents.doc_from_updates(state.updates))
    return NoteUpdate.objects.filter(note=note).count(), text


def _fuzzed_write_frames(rng: random.Random, count: int) -> list[bytes]:
    """Valid updates, step 2 messages and garbage: everything a viewer might try."""
    doc = documents.doc_new()
    frames = []
    for i in range(count):
        kind = rng.choice(("update", "step2", "title", "delete"))
        if kind == "delete":
            update = documents.edit_update(doc, lambda d: documents.text_set(d, ""))
        elif kind == "title":
            update = documents.edit_update(doc, lambda d, i=i: documents.title_set(d, f"pwned {i}"))
        else:
            update = documents.edit_update(doc, lambda d, i=i: documents.text_append(d, f"x{i}"))
        encode = protocol.encode_sync_step2 if kind == "step2" else protocol.encode_sync_update
        frames.append(encode(update))
    return frames


async def test_viewer_gets_state_live_edits_and_presence_but_changes_nothing(
    asgi_app, setup, settings
):
    settings.NOTES_RATE_LIMIT = 0  # 1,000 frames at once: this test is about access, not rate
    note, owner, member = setup
    await sync_to_async(share_note)(note, member, "viewer")
    viewer = await _connect(asgi_app, note, member)
    editor = await _connect(asgi_app, note, owner)
    assert viewer.role == 1 and editor.role == 3
    before = await _stored(note)

    for frame in _fuzzed_write_frames(random.Random(7), 1000):
        await viewer.send(frame)
    await viewer.set_awareness(99, 1, '{"user":{"name":"viewer"}}')
    await viewer.pump(0.5)
    assert viewer.close_code is None
    assert await _stored(note) == before, "a viewer's frames changed the note"
    assert viewer.saved == 0
    # Still receives live edits and has presence.
    await editor.append("from owner")
    assert await viewer.until(lambda: viewer.text == "base\nfrom owner")
    assert await editor.until(lambda: 99 in editor.awareness)
    assert editor.text == "base\nfrom owner"
    await viewer.close()
    await editor.close()


async def test_downgrade_switches_an_open_socket_to_read_only(asgi_app, setup):
    note, owner, member = setup
    await sync_to_async(share_note)(note, member, "editor")
    client = await _connect(asgi_app, note, member)
    assert client.role == 2
    await sync_to_async(share_note)(note, member, "viewer")
    assert await client.until(lambda: client.role == 1, timeout=1)
    count, text = await _stored(note)
    await client.append("should not land")
    await client.pump(0.5)
    assert await _stored(note) == (count, text)


async def test_promotion_lets_the_socket_write_at_once(asgi_app, setup):
    note, owner, member = setup
    await sync_to_async(share_note)(note, member, "viewer")
    client = await _connect(asgi_app, note, member)
    await sync_to_async(share_note)(note, member, "editor")
    assert await client.until(lambda: client.role == 2, timeout=1)
    await client.append("now I can")
    assert await client.until(lambda: client.saved >= 1)
    assert (await _stored(note))[1] == "base\nnow I can"
    await client.close()


async def test_removal_closes_the_socket_with_4403(asgi_app, setup):
    note, owner, member = setup
    await sync_to_async(share_note)(note, member, "editor")
    client = await _connect(asgi_app, note, member)
    owner_client = await _connect(asgi_app, note, owner)
    await sync_to_async(sharing.note_unshare)(note=note, user=member)
    await client.pump(1)
    assert client.close_code == 4403
    assert "access" in client.close_reason
    await owner_client.pump(0.2)
    assert owner_client.close_code is None
    await owner_client.close()


async def test_revoking_a_link_closes_the_sockets_it_let_in(asgi_app, setup):
    note, owner, member = setup
    link = await sync_to_async(ShareLink.objects.create)(note=note, role="editor", created_by=owner)
    await sync_to_async(sharing.share_link_accept)(link=link, user=member)
    client = await _connect(asgi_app, note, member)
    await sync_to_async(sharing.share_link_revoke)(link=link)
    await client.pump(1)
    assert client.close_code == 4403


async def test_deleting_the_note_closes_every_socket_with_4404(asgi_app, setup):
    note, owner, member = setup
    await sync_to_async(share_note)(note, member, "editor")
    a = await _connect(asgi_app, note, owner)
    b = await _connect(asgi_app, note, member)
    await sync_to_async(editing.note_delete)(note=note)
    await a.pump(1)
    await b.pump(0.2)
    assert (a.close_code, b.close_code) == (4404, 4404)
    assert b.close_reason == "This note was deleted"


async def test_logging_out_closes_that_sessions_sockets_only(asgi_app, setup):
    note, owner, _ = setup

    @sync_to_async
    def login():
        client = Client()
        client.force_login(owner)
        return client

    browser = await login()
    other_browser = await login()
    mine = YClient(asgi_app, note.pk, cookie=browser.cookies["sessionid"].value)
    theirs = YClient(asgi_app, note.pk, cookie=other_browser.cookies["sessionid"].value)
    assert await mine.connect() and await theirs.connect()
    await mine.until(lambda: mine.text == "base\n")
    await sync_to_async(browser.post)("/accounts/logout/")
    await mine.pump(1)
    await theirs.pump(0.2)
    assert mine.close_code == 4401
    assert theirs.close_code is None
    await theirs.close()


async def test_a_member_cannot_pose_as_someone_else_in_presence(asgi_app):
    """A viewer's raw client claims to be the owner, id and name; everyone else sees the
    viewer's own id and name on its state (the colour it chose stays)."""
    owner = await sync_to_async(make_user)("owner")
    viewer_user = await sync_to_async(make_user)("viewer", first_name="Val", last_name="Viewer")
    note = await sync_to_async(make_note)(owner=owner, text="x")
    await sync_to_async(share_note)(note, viewer_user, "viewer")
    watcher = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    poser = YClient(asgi_app, note.pk, cookie=await session_cookie(viewer_user))
    assert await watcher.connect()
    assert await poser.connect()
    claim = {"user": {"id": owner.pk, "name": "owner", "color": "#ff0000"}, "cursor": 3}
    await poser.set_awareness(31, 1, json.dumps(claim))
    assert await watcher.until(lambda: 31 in watcher.awareness)
    assert json.loads(watcher.awareness[31]) == {
        "user": {"id": viewer_user.pk, "name": "Val Viewer", "color": "#ff0000"},
        "cursor": 3,
    }
    # A joiner is greeted with the bound state too.
    joiner = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    assert await joiner.connect()
    assert await joiner.until(lambda: 31 in joiner.awareness)
    assert json.loads(joiner.awareness[31])["user"]["id"] == viewer_user.pk
    for client in (watcher, poser, joiner):
        await client.close()
