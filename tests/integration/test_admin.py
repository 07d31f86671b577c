"""The Django admin pages for notes load and search."""

import pytest

from tests.factories import make_note, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    staff = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_note_admin_pages_load(admin_client):
    note = make_note(title="Quarterly report", text="revenue up")
    assert admin_client.get("/admin/").status_code == 200
    listing = admin_client.get("/admin/notes/note/")
    assert listing.status_code == 200
    assert "Quarterly report" in listing.content.decode()
    assert admin_client.get(f"/admin/notes/note/{note.pk}/change/").status_code == 200
    assert admin_client.get("/admin/notes/note/add/").status_code == 200


def test_note_admin_search_and_filters(admin_client):
    make_note(title="Alpha", text="needle in here")
    make_note(title="Beta", text="hay")
    found = admin_client.get("/admin/notes/note/", {"q": "needle"}).content.decode()
    assert "Alpha" in found and "Beta" not in found
    assert admin_client.get("/admin/notes/note/", {"updated_at__year": "2026"}).status_code == 200


def test_owner_lookup_is_an_autocomplete(admin_client):
    make_user("zelda")
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "notes", "model_name": "note", "field_name": "owner", "term": "zel"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["zelda"]


def test_memberships_and_links_are_inlines_and_searchable_by_member(admin_client):
    from notes.models import ShareLink
    from tests.factories import share_note

    note = make_note(title="Team plan")
    share_note(note, make_user("quentin", email="q@corp.example"), "viewer")
    ShareLink.objects.create(note=note, role="editor")
    page = admin_client.get(f"/admin/notes/note/{note.pk}/change/").content.decode()
    assert "memberships-TOTAL_FORMS" in page and "share_links-TOTAL_FORMS" in page
    assert "quentin" in page
    for term in ("quentin", "q@corp.example"):
        found = admin_client.get("/admin/notes/note/", {"q": term}).content.decode()
        assert "Team plan" in found


def test_admin_edits_the_text_and_title_through_the_document(admin_client):
    from notes.services import storage

    note = make_note(title="Draft", text="alpha\nbeta\n")
    response = admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {
            "title": "Final",
            "owner": note.owner_id,
            "content": "alpha\r\nBETA\r\n",  # as browsers submit textareas
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "share_links-TOTAL_FORMS": "0",
            "share_links-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert storage.note_current_text(note_id=note.pk) == "alpha\nBETA\n"
    note.refresh_from_db()
    assert (note.title, note.content_text) == ("Final", "alpha\nBETA\n")
    # The change page shows the document's text, not the search mirror.
    assert (
        "alpha\nBETA" in admin_client.get(f"/admin/notes/note/{note.pk}/change/").content.decode()
    )
