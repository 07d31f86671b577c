"""@mentions in a note's chat notify the people of the note, live on their notes list, with a
count in every page's header and a page that lists them."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from notes.models import Notification
from notes.services.notifications import mentioned_names
from tests.factories import make_note, make_user, share_note

pytestmark = pytest.mark.django_db(transaction=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _say(user, note, text):
    answer = _logged_in(user).post(
        f"/notes/{note.pk}/chat/", json.dumps({"text": text}), content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    return answer


def test_mentions_are_usernames_not_emails_or_words():
    assert mentioned_names("hi @Bob and @carol.") == {"bob", "carol"}
    assert mentioned_names("mail bob@example.com or x@y") == set()
    assert mentioned_names("@@double @ alone") == set()
    assert mentioned_names("(@dan), @e-f_g+h") == {"dan", "e-f_g+h"}


def test_only_the_notes_people_are_notified_and_never_the_author():
    owner = make_user("olive")
    bob = make_user("bob")
    make_user("zed")  # not one of the note's people
    note = make_note(owner=owner, title="Plan")
    share_note(note, bob, role="viewer")
    _say(bob, note, "@olive @BOB @zed @nobody look at this")
    notes = Notification.objects.all()
    assert [(n.user, n.actor, n.note) for n in notes] == [(owner, bob, note)]
    assert notes[0].excerpt.startswith("@olive")


def test_the_header_counts_unread_and_the_page_lists_then_marks_them_read():
    owner = make_user("olive")
    bob = make_user("bob", first_name="Bob")
    note = make_note(owner=owner, title="Roadmap <b>")
    share_note(note, bob, role="editor")
    for text in ("@olive first", "@olive <script>alert(1)</script>"):
        _say(bob, note, text)
    client = _logged_in(owner)
    page = client.get("/").content.decode()
    assert 'id="notifications-badge"' in page and ">2</span>" in page
    assert client.get("/notifications/count/").json() == {"unread": 2}
    listing = client.get("/notifications/").content.decode()
    assert listing.count("mentioned you in") == 2
    assert "Roadmap &lt;b&gt;" in listing and "&lt;script&gt;" in listing
    assert "<script>alert" not in listing
    assert client.get("/notifications/count/").json() == {"unread": 0}
    assert _logged_in(bob).get("/notifications/count/").json() == {"unread": 0}
    assert Client().get("/notifications/count/").status_code == 401


@pytest.mark.usefixtures("fresh_hub")
async def test_a_mention_reaches_the_mentioned_persons_open_notes_list(asgi_app):
    from channels.testing import WebsocketCommunicator

    from tests.yclient import ORIGIN, session_cookie

    owner = await sync_to_async(make_user)("olive")
    bob = await sync_to_async(make_user)("bob")
    note = await sync_to_async(make_note)(owner=owner, title="Live")
    await sync_to_async(share_note)(note, bob, "editor")
    listing = WebsocketCommunicator(
        asgi_app,
        "/ws/notes/",
        headers=[
            (b"host", b"127.0.0.1"),
            (b"origin", ORIGIN),
            (b"cookie", f"sessionid={await session_cookie(owner)}".encode()),
        ],
    )
    connected, _ = await listing.connect()
    assert connected
    await sync_to_async(_say)(bob, note, "ping @olive")
    events = []
    while not any(e.get("kind") == "notifications" for e in events):
        events.append(json.loads(await listing.receive_from(timeout=5)))
    assert {"kind": "notifications", "unread": 1} in events
    await listing.disconnect()
