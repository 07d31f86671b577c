"""The notes list follows changes without a reload (real Chromium, real daphne)."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.people import alice
from tests.factories import make_note, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shared_renamed_edited_and_deleted_notes_show_live(open_note, server):
    owner = alice()
    bob = make_user("bob", first_name="Bob", last_name="Stone")
    plans = make_note(owner=owner, title="Plans", text="draft\n")
    bobs = make_note(owner=bob, title="Bob's own", text="")

    # Bob watches his notes list.
    b = open_note(bob, bobs, wait=False)
    b.page.goto(f"{server.http_url}/")
    expect(b.page.locator("body[data-live=on]")).to_have_count(1)
    items = b.page.locator(".note-item")
    expect(items).to_have_count(1)

    # Alice shares her note with Bob from her share page: it appears in Bob's list.
    a = open_note(owner, plans)
    a.page.goto(f"{server.http_url}/notes/{plans.pk}/share/")
    a.page.fill("#id_who", "bob")
    a.page.select_option("select[name=role]", "editor")
    a.page.click("button:has-text('Share')")
    shared = b.page.locator(f'.note-item[data-note-id="{plans.pk}"]')
    expect(shared.locator(".note-title")).to_have_text("Plans")
    expect(shared.locator(".note-owner")).to_have_text("Shared by alice")

    # She opens it: Bob sees who is editing; she renames it inline: Bob sees the new title.
    a.page.goto(f"{server.http_url}/notes/{plans.pk}/")
    a.wait_ready()
    expect(shared.locator(".note-editing")).to_have_text(re.compile(r"Editing: Alice"))
    a.page.fill("#note-title-input", "Plans v2")
    a.page.keyboard.press("Enter")
    expect(shared.locator(".note-title")).to_have_text("Plans v2")
    a.type_at_end("launch on Monday")
    expect(shared.locator(".note-preview")).to_contain_text("launch on Monday")

    # She deletes it: it leaves Bob's list.
    a.page.goto(f"{server.http_url}/notes/{plans.pk}/delete/")
    a.page.click("button:has-text('Delete for good')")
    expect(shared).to_have_count(0)
    expect(items).to_have_count(1)
