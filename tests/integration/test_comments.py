"""Comment threads anchored to a note's text: the API for editors and scripts, roles, limits,
notifications, live events, and anchors that follow their words through concurrent edits."""

import base64
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from pycrdt import StickyIndex, Text

from notes import documents
from notes.models import Comment, CommentThread, Notification
from notes.services import editing, revisions, storage, tokens
from tests.factories import make_note, make_user, share_note
from tests.yclient import YClient, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people():
    owner = make_user("olive")
    editor = make_user("ed")
    viewer = make_user("vi")
    stranger = make_user("zed")
    note = make_note(owner=owner, title="Plan", text="We ship the brave new parser on Monday.\n")
    share_note(note, editor, role="editor")
    share_note(note, viewer, role="viewer")
    return note, owner, editor, viewer, stranger


def _api(user=None, token=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}" if token else ""
    if not token:
        client.defaults.pop("HTTP_AUTHORIZATION")
    return client


def _url(note, *parts) -> str:
    return "/".join([f"/api/notes/{note.pk}/comments", *map(str, parts)]) + "/"


def _send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _resolve(note, thread: dict) -> tuple[int, int]:
    """Where a thread's anchors are in the note now (pycrdt, UTF-8 offsets)."""
    doc = documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    text = doc.get(documents.CONTENT, type=Text)
    start, end = (
        StickyIndex.decode(base64.b64decode(thread["anchor"][k]), text).get_index()
        for k in ("start", "end")
    )
    return start, end


def test_a_quote_anchors_a_thread_that_follows_its_words_through_edits(people):
    note, owner, editor, *_ = people
    made = _send(_api(owner), "post", _url(note), {"quote": "brave new", "text": "Which one?"})
    assert made.status_code == 201, made.content
    thread = made.json()
    assert thread["quote"] == "brave new" and thread["comments"][0]["text"] == "Which one?"
    # Someone types before the passage and inside it: the anchors keep to the same words.
    editing.note_text_replace(
        note=note, text="Plan: We ship the brave, shiny new parser on Monday.\n", author=editor
    )
    start, end = _resolve(note, thread)
    text = storage.note_current_text(note_id=note.pk).encode()
    assert text[start:end].decode() == "brave, shiny new"
    # Restoring an old version is an edit like any other: the thread stays.
    revision = revisions.revision_save(note=note, user=owner, name="before")
    editing.note_text_replace(note=note, text="All gone.\n", author=editor)
    revisions.revision_restore(note=note, revision=revision, user=owner)
    assert CommentThread.objects.filter(pk=thread["id"]).exists()


def test_viewers_comment_strangers_cannot_and_tokens_work_like_sessions(people):
    note, owner, editor, viewer, stranger = people
    answer = _send(_api(viewer), "post", _url(note), {"quote": "Monday", "text": "Tuesday?"})
    assert answer.status_code == 201
    assert (
        _send(_api(stranger), "post", _url(note), {"quote": "Monday", "text": "x"}).status_code
        == 404
    )
    assert _api().get(_url(note)).status_code == 401
    key = tokens.api_token_create(user=editor, name="script")[1]
    listed = _api(token=key).get(_url(note)).json()["threads"]
    assert [t["comments"][0]["text"] for t in listed] == ["Tuesday?"]
    # Session POSTs need the CSRF token, as every form does.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert _send(strict, "post", _url(note), {"quote": "Monday", "text": "x"}).status_code == 403


def test_replies_resolve_reopen_and_filters(people):
    note, owner, editor, viewer, _ = people
    thread = _send(_api(owner), "post", _url(note), {"quote": "parser", "text": "@vi ok?"}).json()
    reply = _send(_api(viewer), "post", _url(note, thread["id"]), {"text": "Looks fine"})
    assert reply.status_code == 201
    assert [c["text"] for c in reply.json()["comments"]] == ["@vi ok?", "Looks fine"]
    resolved = _send(_api(owner), "patch", _url(note, thread["id"]), {"resolved": True}).json()
    assert resolved["resolved"] and resolved["resolvedBy"] == "olive"
    assert _api(owner).get(_url(note) + "?status=open").json()["threads"] == []
    assert len(_api(owner).get(_url(note) + "?status=resolved").json()["threads"]) == 1
    reopened = _send(_api(editor), "patch", _url(note, thread["id"]), {"resolved": False}).json()
    assert not reopened["resolved"]
    # The mention and the reply notified the right people, never the actor.
    kinds = sorted((n.user.username, n.kind) for n in Notification.objects.all())
    assert kinds == [("olive", "reply"), ("vi", "mention")]


def test_deleting_is_for_authors_and_the_owner(people):
    note, owner, editor, viewer, _ = people
    thread = _send(_api(viewer), "post", _url(note), {"quote": "Monday", "text": "first"}).json()
    reply = _send(_api(editor), "post", _url(note, thread["id"]), {"text": "second"}).json()
    second = reply["comments"][1]["id"]
    assert _api(viewer).delete(_url(note, thread["id"], second)).status_code == 403
    assert _api(editor).delete(_url(note, thread["id"], second)).status_code == 200
    assert _api(editor).delete(_url(note, thread["id"])).status_code == 403
    assert _api(owner).delete(_url(note, thread["id"])).json() == {"deleted": thread["id"]}
    assert not Comment.objects.exists()


def test_bad_input_gets_clear_errors(people):
    note, owner, *_ = people
    client = _api(owner)
    cases = [
        ({"quote": "not in the note", "text": "x"}, 400, "not in the note"),
        ({"quote": "Monday", "text": " "}, 400, "Write something"),
        ({"quote": "Monday", "text": "x" * 4001}, 400, "4,000"),
        ({"quote": "x" * 1001, "text": "x"}, 400, "1,000"),
        ({"quote": "Monday", "text": "x", "anchor": {"start": "!!", "end": "AA=="}}, 400, "base64"),
        (
            {"quote": "Monday", "text": "x", "anchor": {"start": "BQ==", "end": "BQ=="}},
            400,
            "relative positions",
        ),
        ({"text": "no quote"}, 400, "quote"),
    ]
    for body, status, words in cases:
        answer = _send(client, "post", _url(note), body)
        assert answer.status_code == status, (body, answer.content)
        assert words in answer.json()["error"]
    assert client.post(_url(note), "{", content_type="application/json").status_code == 400
    assert not CommentThread.objects.exists()
    # An XSS payload is stored and returned as text (the editor renders it as text).
    payload = "<img src=x onerror=alert(1)>"
    made = _send(client, "post", _url(note), {"quote": "Monday", "text": payload}).json()
    assert made["comments"][0]["text"] == payload


@pytest.mark.usefixtures("fresh_hub")
async def test_open_editors_see_threads_change_live(asgi_app):
    owner = await sync_to_async(make_user)("olive")
    note = await sync_to_async(make_note)(owner=owner, title="Live", text="alpha beta\n")
    editor = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    assert await editor.connect()
    assert await editor.until(lambda: editor.role is not None)
    client = await sync_to_async(_api)(owner)
    made = await sync_to_async(_send)(client, "post", _url(note), {"quote": "beta", "text": "?"})
    thread = made.json()
    assert await editor.until(lambda: editor.comments)
    assert editor.comments[0] == {"kind": "thread", "thread": thread}
    await sync_to_async(_send)(client, "patch", _url(note, thread["id"]), {"resolved": True})
    await sync_to_async(client.delete)(_url(note, thread["id"]))
    assert await editor.until(lambda: len(editor.comments) == 3)
    assert editor.comments[1]["thread"]["resolved"] is True
    assert editor.comments[2] == {"kind": "thread-deleted", "id": thread["id"]}
    await editor.close()


def test_exports_leave_comments_out_unless_asked(people):
    note, owner, *_ = people
    _send(
        _api(owner),
        "post",
        _url(note),
        {"quote": "Monday", "text": "Tuesday?<script>alert(1)</script>"},
    )
    client = _api(owner)
    plain = client.get(f"/notes/{note.pk}/export.md").content.decode()
    assert "Comments" not in plain and "Tuesday" not in plain
    asked = client.get(f"/notes/{note.pk}/export.md?comments=1").content.decode()
    assert asked.startswith("We ship the brave new parser on Monday.")
    assert "## Comments" in asked and "> Monday" in asked and "**olive**" in asked
    page = client.get(f"/notes/{note.pk}/export.html?comments=1").content.decode()
    assert "Comments</h2>" in page and "Tuesday?" in page
    assert "<script>alert" not in page  # sanitised like the note itself
