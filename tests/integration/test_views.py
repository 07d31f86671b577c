"""Pages through Django's test client: access, CRUD, search, CSRF."""

import pytest
from django.test import Client
from django.urls import reverse

from notes.models import Note
from tests.factories import PASSWORD, make_note

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    ["/", "/notes/00000000-0000-0000-0000-000000000000/"],
)
def test_notes_pages_require_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_signup_logs_the_new_user_in_and_shows_the_empty_list(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "carol", "email": "", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["user"].username == "carol"
    assert "You have no notes yet" in response.content.decode()


def test_signup_rejects_mismatched_passwords(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "dave", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()


def test_login_and_logout(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_create_redirects_to_the_new_note(client_alice, user):
    response = client_alice.post("/notes/new/")
    note = Note.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == f"/notes/{note.pk}/"
    assert client_alice.get(response["Location"]).status_code == 200


def test_create_needs_post(client_alice):
    assert client_alice.get("/notes/new/").status_code == 405


def test_note_page_shows_content(client_alice, note):
    page = client_alice.get(f"/notes/{note.pk}/").content.decode()
    assert "Shopping" in page
    assert "milk" in page and "eggs" in page


def test_rename(client_alice, note):
    response = client_alice.post(f"/notes/{note.pk}/rename/", {"title": "  Groceries "})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.title == "Groceries"


def test_rename_rejects_blank_title(client_alice, note):
    client_alice.post(f"/notes/{note.pk}/rename/", {"title": "   "}, follow=True)
    note.refresh_from_db()
    assert note.title == "Shopping"


def test_delete_asks_for_confirmation_then_deletes(client_alice, note):
    confirm = client_alice.get(f"/notes/{note.pk}/delete/")
    assert confirm.status_code == 200
    assert "Delete for good" in confirm.content.decode()
    assert Note.objects.filter(pk=note.pk).exists()
    response = client_alice.post(f"/notes/{note.pk}/delete/")
    assert response.status_code == 302
    assert not Note.objects.filter(pk=note.pk).exists()


def test_list_is_sorted_by_last_change_and_searchable(client_alice, user):
    first = make_note(owner=user, title="Old plans", text="nothing here")
    make_note(owner=user, title="Recipes", text="pancakes with syrup")
    client_alice.post(f"/notes/{first.pk}/rename/", {"title": "Old plans, revised"})

    titles = [n.title for n in client_alice.get("/").context["notes"]]
    assert titles == ["Old plans, revised", "Recipes"]

    by_content = client_alice.get("/", {"q": "PANCAKES"}).context["notes"]
    assert [n.title for n in by_content] == ["Recipes"]
    by_title = client_alice.get("/", {"q": "plans"}).context["notes"]
    assert [n.title for n in by_title] == ["Old plans, revised"]
    assert "No notes match" in client_alice.get("/", {"q": "zzz"}).content.decode()


def test_list_shows_only_my_notes(client_alice, other_user):
    make_note(owner=other_user, title="Bob's secret")
    assert "Bob&#x27;s secret" not in client_alice.get("/").content.decode()


@pytest.mark.parametrize("suffix", ["", "rename/", "delete/"])
def test_another_users_note_is_404(client_alice, other_user, suffix):
    theirs = make_note(owner=other_user, title="Private")
    url = f"/notes/{theirs.pk}/{suffix}"
    assert client_alice.get(url).status_code in (404, 405)
    assert client_alice.post(url, {"title": "hijacked"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "Private"


def test_unknown_note_is_404(client_alice):
    assert client_alice.get("/notes/7d9e8a52-1a6e-4c1c-9d6e-3c9f7b4e2f10/").status_code == 404


@pytest.mark.parametrize(
    ("url", "data"),
    [("/notes/new/", {}), ("/accounts/signup/", {"username": "x"}), ("/accounts/login/", {})],
)
def test_forms_require_csrf(user, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(url, data).status_code == 403


def test_note_forms_require_csrf(user, note):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/notes/{note.pk}/rename/", {"title": "x"}).status_code == 403
    assert client.post(f"/notes/{note.pk}/delete/").status_code == 403
    assert Note.objects.filter(pk=note.pk, title="Shopping").exists()


def test_pages_reference_no_external_assets(client_alice, note):
    for url in ["/", f"/notes/{note.pk}/", reverse("login")]:
        html = client_alice.get(url).content.decode()
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
