"""Two people in one note, in real Chromium: text, cursors, presence, renames and undo."""

import os
import shutil

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, ROOT, side_by_side
from tests.e2e.people import alice, display_name, second_person
from tests.factories import make_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOT = ROOT / "docs" / "editor-screenshot.png"


def test_two_people_see_each_others_text_cursor_presence_and_title(open_note, chromium):
    owner = alice()
    note = make_note(
        owner=owner, title="Team plan", text="# Launch plan\n\n- [ ] Write the notes\n"
    )
    other = second_person(note, owner)
    a = open_note(owner, note, width=960, height=600)
    b = open_note(other, note, width=960, height=600)

    a.type_at_end("- [ ] Review with **Bob**")
    expect(b.editor).to_contain_text("Review with **Bob**")
    expect(b.page.locator("#preview strong")).to_have_text("Bob")
    # B sees A's caret, labelled with A's display name.
    expect(b.page.locator(".cm-ySelectionInfo", has_text="Alice Martin")).to_be_visible()

    avatars = [tab.page.locator("#presence-list > li") for tab in (a, b)]
    if other != owner:
        for tab in (a, b):
            expect(tab.page.locator("#presence-list > li")).to_have_count(2)
            for name in ("Alice Martin", display_name(other)):
                avatar = tab.page.locator(f'#presence-list > li[data-name="{name}"]')
                expect(avatar).to_have_count(1)
        expect(b.page.locator("#presence-typing")).to_have_text("Alice Martin is typing…")
    else:
        # Two tabs of one person are one avatar.
        for people in avatars:
            expect(people).to_have_count(1)
            expect(people).to_have_attribute("data-tabs", "2")
            expect(people).to_have_attribute("data-name", "Alice Martin")

    # Enter continues the task list (the Markdown keymap).
    b.type_at_end("\nBook the room")
    expect(a.editor).to_contain_text("- [ ] Book the room")
    expect(a.page.locator(".cm-ySelectionInfo", has_text=display_name(other))).to_be_visible()

    # Inline rename: Enter commits, and the other tab follows live.
    title = a.page.locator("#note-title-input")
    title.fill("Launch plan")
    title.press("Enter")
    expect(b.page.locator("#note-title-input")).to_have_value("Launch plan")
    expect(b.page).to_have_title("Launch plan · Collab Notes")
    # Escape cancels an edit in progress.
    title.fill("Not this")
    title.press("Escape")
    expect(title).to_have_value("Launch plan")

    for tab in (a, b):
        expect(tab.save).to_have_text("Saved")
    assert a.text() == b.text()

    b.editor.click()  # so both carets show in the picture
    b.page.keyboard.press("Control+End")
    shots = [
        (f"{display_name(owner)} (tab A)", a.screenshot("two-users-a")),
        (f"{display_name(other)} (tab B)", b.screenshot("two-users-b")),
    ]
    combined = ARTIFACTS / "editor-two-users.png"
    side_by_side(chromium.get(), shots, combined)
    # The docs picture changes with every run (colours follow user ids): refresh it on request.
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") or not DOCS_SCREENSHOT.exists():
        shutil.copyfile(combined, DOCS_SCREENSHOT)


def test_undo_reverts_only_my_own_typing(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Undo", text="start\n")
    other = second_person(note, owner)
    a = open_note(owner, note)
    b = open_note(other, note)

    a.type_at_end("typed by A")
    expect(b.editor).to_contain_text("typed by A")
    b.type_at_end("\ntyped by B")
    expect(a.editor).to_contain_text("typed by B")

    a.editor.focus()
    a.page.keyboard.press("Control+z")
    for tab in (a, b):
        expect(tab.editor).not_to_contain_text("typed by A")
        expect(tab.editor).to_contain_text("typed by B")
    assert a.text() == b.text() == "start\n\ntyped by B"

    # Redo brings back exactly what was undone.
    a.page.keyboard.press("Control+y")
    expect(b.editor).to_contain_text("typed by A")
    assert b.text() == "start\ntyped by A\ntyped by B"
