"""What the editor does with the user's rights: view only, and changes while the note is open."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.people import alice
from tests.factories import make_note, make_user, share_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCESS_REMOVED = re.compile(
    r"^Closed: (You no longer have access to this note|Your access to this note was removed)$"
)


def _bob():
    return make_user("bob", first_name="Bob", last_name="Stone")


def test_a_viewer_follows_live_but_cannot_edit(open_note):
    owner, bob = alice(), _bob()
    note = make_note(owner=owner, title="Minutes", text="Agreed:\n")
    share_note(note, bob, "viewer")
    a = open_note(owner, note)
    b = open_note(bob, note)

    expect(b.page.locator("#access-status")).to_have_text("View only")
    expect(b.page.locator("#access-status")).to_be_visible()
    expect(a.page.locator("#access-status")).to_be_hidden()
    expect(b.editor).to_have_attribute("contenteditable", "false")
    expect(b.page.locator("#note-title-input")).to_have_count(0)
    expect(b.page.locator("#note-title")).to_have_text("Minutes")
    expect(b.save).to_have_text("")

    b.editor.click()
    b.page.keyboard.type("not allowed")
    b.page.keyboard.press("Control+z")
    assert b.text() == "Agreed:\n"

    a.type_at_end("ship on Friday")
    expect(b.editor).to_contain_text("ship on Friday")
    expect(a.page.locator('#presence-list > li[data-name="Bob Stone"]')).to_have_count(1)
    # Renames reach viewers too.
    a.page.locator("#note-title-input").fill("Minutes, week 12")
    a.page.locator("#note-title-input").press("Enter")
    expect(b.page.locator("#note-title")).to_have_text("Minutes, week 12")


def _set_role(owner_tab, server, note, username: str, role: str | None) -> None:
    """Change (or, with None, remove) someone's access on the owner's share page."""
    page = owner_tab.context.new_page()
    page.goto(f"{server.http_url}/notes/{note.pk}/share/")
    member = page.locator(f'li.member[data-user="{username}"]')
    if role is None:
        member.get_by_role("button", name="Remove").click()
    else:
        member.get_by_label(f"Role of {username}").select_option(role)
        member.get_by_role("button", name="Change").click()
    page.wait_for_load_state()
    page.close()


def test_access_changes_reach_an_open_editor_at_once(open_note, server):
    owner, bob = alice(), _bob()
    note = make_note(owner=owner, title="Shared", text="")
    share_note(note, bob, "editor")
    a = open_note(owner, note)
    b = open_note(bob, note)
    b.type_at_end("Bob was here")
    expect(b.save).to_have_text("Saved")

    _set_role(a, server, note, "bob", "viewer")
    expect(b.page.locator("#access-status")).to_be_visible()
    expect(b.editor).to_have_attribute("contenteditable", "false")
    expect(b.save).to_have_text("")
    expect(b.connection).to_have_text("Connected")

    _set_role(a, server, note, "bob", "editor")
    expect(b.page.locator("#access-status")).to_be_hidden()
    expect(b.editor).to_have_attribute("contenteditable", "true")
    b.type_at_end(", twice")
    expect(b.save).to_have_text("Saved")
    a.wait_for_text("Bob was here, twice")

    _set_role(a, server, note, "bob", None)
    # daphne drops close reasons, so the page words the code (4403) itself.
    expect(b.connection).to_have_text(ACCESS_REMOVED)
    expect(b.editor).to_have_attribute("contenteditable", "false")
