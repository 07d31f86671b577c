"""A note's chat: who may read and write, limits, paging, moderation, and live delivery to
open editors (in process here; across two daphne processes in test_chat_processes)."""

import asyncio
import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from notes.models import ChatMessage
from tests import live
from tests.factories import make_note, make_user, share_note
from tests.liveclients import WsYClient
from tests.services import require_redis
from tests.yclient import YClient, login_session_key, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people():
    owner = make_user("owner", first_name="Olive")
    editor = make_user("editor")
    viewer = make_user("viewer")
    stranger = make_user("stranger")
    note = make_note(owner=owner, title="Talk", text="")
    share_note(note, editor, role="editor")
    share_note(note, viewer, role="viewer")
    return note, owner, editor, viewer, stranger


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _post(client, note, text):
    return client.post(
        f"/notes/{note.pk}/chat/", json.dumps({"text": text}), content_type="application/json"
    )


def test_members_and_viewers_chat_strangers_and_anonymous_cannot(people):
    note, owner, editor, viewer, stranger = people
    assert _post(_client(owner), note, "hello from the owner").status_code == 201
    answer = _post(_client(viewer), note, "a viewer may talk")
    assert answer.status_code == 201
    assert answer.json()["author"]["name"] == "viewer"
    for refused, status in ((stranger, 404), (None, 401)):
        assert _post(_client(refused), note, "let me in").status_code == status
        assert _client(refused).get(f"/notes/{note.pk}/chat/").status_code == status
    page = _client(editor).get(f"/notes/{note.pk}/chat/").json()
    assert [m["text"] for m in page["messages"]] == ["hello from the owner", "a viewer may talk"]
    assert page["more"] is False
    assert page["messages"][0]["author"]["name"] == "Olive"


def test_text_is_stored_as_written_and_limits_answer_with_their_errors(people, settings):
    note, owner, *_ = people
    client = _client(owner)
    payload = '<img src=x onerror="alert(1)"> **bold** [x](javascript:alert(1))'
    answer = _post(client, note, payload)
    assert answer.status_code == 201
    # JSON carries the text as a string: the page renders it as text (frontend/src tests that).
    assert answer.json()["text"] == payload
    assert answer["Content-Type"] == "application/json"
    assert _post(client, note, "   ").json() == {"error": "Write something first."}
    long = _post(client, note, "x" * 4001)
    assert long.status_code == 400 and "4,000" in long.json()["error"]
    assert _post(client, note, "x" * 4000).status_code == 201
    bad = client.post(f"/notes/{note.pk}/chat/", "{", content_type="application/json")
    assert bad.status_code == 400
    settings.CHAT_MESSAGES_PER_MINUTE = 3  # two were sent already
    assert _post(client, note, "third").status_code == 201
    fast = _post(client, note, "fourth")
    assert fast.status_code == 429 and "too fast" in fast.json()["error"]
    assert ChatMessage.objects.filter(note=note).count() == 3


def test_the_newest_hundred_first_then_older_pages(people, settings):
    note, owner, *_ = people
    settings.CHAT_MESSAGES_PER_MINUTE = 0
    ChatMessage.objects.bulk_create(
        ChatMessage(note=note, author=owner, text=f"m{i}") for i in range(130)
    )
    client = _client(owner)
    first = client.get(f"/notes/{note.pk}/chat/").json()
    assert [m["text"] for m in first["messages"]] == [f"m{i}" for i in range(30, 130)]
    assert first["more"] is True
    older = client.get(f"/notes/{note.pk}/chat/?before={first['messages'][0]['id']}").json()
    assert [m["text"] for m in older["messages"]] == [f"m{i}" for i in range(30)]
    assert older["more"] is False
    assert client.get(f"/notes/{note.pk}/chat/?before=x").status_code == 400


def test_authors_edit_and_delete_their_own_and_the_owner_deletes_any(people):
    note, owner, editor, viewer, _ = people
    mine = _post(_client(viewer), note, "typo").json()
    url = f"/notes/{note.pk}/chat/{mine['id']}/"
    body = json.dumps({"text": "fixed"})
    other_edit = _client(editor).patch(url, body, content_type="application/json")
    assert other_edit.status_code == 403
    edited = _client(viewer).patch(url, body, content_type="application/json").json()
    assert edited["text"] == "fixed" and edited["edited"] is not None
    assert _client(editor).delete(url).status_code == 403
    assert _client(owner).delete(url).json() == {"deleted": mine["id"]}
    assert _client(owner).delete(url).status_code == 404
    own = _post(_client(editor), note, "mine").json()
    assert _client(editor).delete(f"/notes/{note.pk}/chat/{own['id']}/").status_code == 200
    assert not ChatMessage.objects.filter(note=note).exists()


@pytest.mark.usefixtures("fresh_hub")
async def test_open_editors_get_each_change_live_and_stock_clients_do_not(asgi_app):
    owner = await sync_to_async(make_user)("owner")
    note = await sync_to_async(make_note)(owner=owner, title="Live", text="")
    cookie = await session_cookie(owner)
    editor = YClient(asgi_app, note.pk, cookie=cookie)
    stock = YClient(asgi_app, note.pk, cookie=cookie, acks=False)
    assert await editor.connect() and await stock.connect()
    assert await editor.until(lambda: editor.role is not None)
    client = await sync_to_async(_client)(owner)
    posted = (await sync_to_async(_post)(client, note, "live!")).json()
    assert await editor.until(lambda: len(editor.chat) == 1)
    assert editor.chat[0] == {"kind": "message", "message": posted}
    url = f"/notes/{note.pk}/chat/{posted['id']}/"
    await sync_to_async(client.patch)(url, '{"text": "live, edited"}', "application/json")
    await sync_to_async(client.delete)(url)
    assert await editor.until(lambda: len(editor.chat) == 3)
    assert editor.chat[1]["kind"] == "edited"
    assert editor.chat[1]["message"]["text"] == "live, edited"
    assert editor.chat[2] == {"kind": "deleted", "id": posted["id"]}
    await stock.pump(0.3)
    assert stock.chat == []
    await editor.close()
    await stock.close()


@pytest.mark.usefixtures("fresh_hub")
async def test_an_admin_deletion_reaches_open_editors_too(asgi_app):
    owner = await sync_to_async(make_user)("owner")
    staff = await sync_to_async(make_user)("staff", is_staff=True, is_superuser=True)
    note = await sync_to_async(make_note)(owner=owner, title="Moderated", text="")
    message = await sync_to_async(ChatMessage.objects.create)(note=note, author=owner, text="x")
    editor = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    assert await editor.connect()
    assert await editor.until(lambda: editor.role is not None)
    admin = await sync_to_async(_client)(staff)
    answer = await sync_to_async(admin.post)(
        f"/admin/notes/chatmessage/{message.pk}/delete/", {"post": "yes"}
    )
    assert answer.status_code == 302
    assert await editor.until(lambda: editor.chat)
    assert editor.chat == [{"kind": "deleted", "id": message.pk}]
    assert not await sync_to_async(ChatMessage.objects.filter(pk=message.pk).exists)()
    await editor.close()


def test_chat_crosses_processes_on_redis():
    redis = require_redis()
    owner = make_user("owner")
    guest = make_user("guest")
    note = make_note(owner=owner, title="Far", text="")
    share_note(note, guest, role="viewer")
    owner_cookie, guest_cookie = login_session_key(owner), login_session_key(guest)

    async def scenario(one, two):
        reader = WsYClient(one, note.pk, cookie=owner_cookie)
        assert await reader.connect()
        assert await reader.until(lambda: reader.role is not None)
        csrf = "d" * 32
        async with httpx.AsyncClient(
            base_url=two.http_url, cookies={"sessionid": guest_cookie, "csrftoken": csrf}
        ) as browser:
            answer = await browser.post(
                f"/notes/{note.pk}/chat/",
                json={"text": "hello from the other process"},
                headers={"X-CSRFToken": csrf, "Origin": two.http_url},
            )
            assert answer.status_code == 201
        assert await reader.until(lambda: reader.chat, timeout=10)
        assert reader.chat[0]["message"]["text"] == "hello from the other process"
        assert reader.chat[0]["message"]["author"]["name"] == "guest"
        await reader.close()

    with live.daphne(REDIS_URL=redis) as one, live.daphne(REDIS_URL=redis) as two:
        asyncio.run(scenario(one, two))
