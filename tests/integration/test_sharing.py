"""Roles, share links and their enforcement in views (HTTP client)."""

import pytest
from django.test import Client

from notes.models import Membership, Note, ShareLink
from tests.factories import PASSWORD, make_note, make_user, share_note

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people():
    owner, editor, viewer, stranger = (make_user(n) for n in ("own", "ed", "vi", "stranger"))
    note = make_note(owner=owner, title="Roadmap", text="q1\n")
    share_note(note, editor, "editor")
    share_note(note, viewer, "viewer")
    return note, owner, editor, viewer, stranger


def test_each_role_sees_what_it_may(people):
    note, owner, editor, viewer, stranger = people
    url = f"/notes/{note.pk}/"
    assert _client(owner).get(url).status_code == 200
    assert _client(editor).get(url).context["can_edit"] is True
    viewer_page = _client(viewer).get(url)
    assert viewer_page.status_code == 200 and viewer_page.context["can_edit"] is False
    assert _client(stranger).get(url).status_code == 404


@pytest.mark.parametrize(
    ("who", "rename", "delete", "share"),
    [("owner", 302, 200, 200), ("editor", 302, 404, 404), ("viewer", 404, 404, 404)],
)
def test_views_enforce_roles(people, who, rename, delete, share):
    note, owner, editor, viewer, _ = people
    client = _client({"owner": owner, "editor": editor, "viewer": viewer}[who])
    assert client.post(f"/notes/{note.pk}/rename/", {"title": "x"}).status_code == rename
    assert client.get(f"/notes/{note.pk}/delete/").status_code == delete
    assert client.get(f"/notes/{note.pk}/share/").status_code == share
    if who != "owner":
        assert client.post(f"/notes/{note.pk}/delete/").status_code == 404
        assert Note.objects.filter(pk=note.pk).exists()


def test_list_shows_shared_notes_and_the_shared_filter(people):
    note, owner, editor, _, _ = people
    make_note(owner=editor, title="Editor's own")
    everything = _client(editor).get("/")
    assert {n.title for n in everything.context["notes"]} == {"Roadmap", "Editor's own"}
    assert "Shared by own" in everything.content.decode()
    shared = _client(editor).get("/", {"shared": "1"})
    assert [n.title for n in shared.context["notes"]] == ["Roadmap"]
    assert _client(owner).get("/", {"shared": "1"}).context["notes"].count() == 0


def test_owner_adds_by_username_or_email_changes_and_removes(people):
    note, owner, _, _, stranger = people
    client = _client(owner)
    url = f"/notes/{note.pk}/share/"
    client.post(url, {"action": "add", "who": "STRANGER@example.com", "role": "viewer"})
    assert Membership.objects.get(note=note, user=stranger).role == "viewer"
    client.post(url, {"action": "role", "user": stranger.pk, "role": "editor"})
    assert Membership.objects.get(note=note, user=stranger).role == "editor"
    client.post(url, {"action": "remove", "user": stranger.pk})
    assert not Membership.objects.filter(note=note, user=stranger).exists()
    response = client.post(url, {"action": "add", "who": "nobody", "role": "viewer"})
    assert "No user called “nobody”" in response.content.decode()


def test_transfer_ownership_keeps_the_old_owner_as_editor(people):
    note, owner, editor, _, _ = people
    _client(owner).post(f"/notes/{note.pk}/share/", {"action": "transfer", "user": editor.pk})
    note.refresh_from_db()
    assert note.owner == editor
    assert Membership.objects.get(note=note, user=owner).role == "editor"
    assert not Membership.objects.filter(note=note, user=editor).exists()
    assert _client(editor).get(f"/notes/{note.pk}/share/").status_code == 200
    assert _client(owner).get(f"/notes/{note.pk}/share/").status_code == 404


def test_share_link_grants_its_role_and_revoking_takes_it_back(people):
    note, owner, _, _, stranger = people
    _client(owner).post(f"/notes/{note.pk}/share/", {"action": "link", "role": "viewer"})
    link = ShareLink.objects.get(note=note)
    assert len(link.token) >= 32
    visitor = _client(stranger)
    response = visitor.get(f"/s/{link.token}/")
    assert response["Location"] == f"/notes/{note.pk}/"
    assert visitor.get(f"/notes/{note.pk}/").context["can_edit"] is False

    _client(owner).post(f"/notes/{note.pk}/share/", {"action": "revoke", "link": link.pk})
    assert visitor.get(f"/s/{link.token}/").status_code == 404
    assert visitor.get(f"/notes/{note.pk}/").status_code == 404


def test_logged_out_visitor_with_a_link_logs_in_then_sees_the_note_read_only(people):
    note, owner, _, _, stranger = people
    link = ShareLink.objects.create(note=note, role="viewer", created_by=owner)
    client = Client()
    response = client.get(f"/s/{link.token}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.post(
        response["Location"], {"username": "stranger", "password": PASSWORD}, follow=True
    )
    assert response.context["note"] == note
    assert response.context["can_edit"] is False


def test_a_link_never_lowers_an_existing_role(people):
    note, owner, editor, _, _ = people
    link = ShareLink.objects.create(note=note, role="viewer", created_by=owner)
    _client(editor).get(f"/s/{link.token}/")
    assert Membership.objects.get(note=note, user=editor).role == "editor"


def test_unknown_link_is_404(people):
    _, _, _, _, stranger = people
    assert _client(stranger).get("/s/not-a-real-token/").status_code == 404
