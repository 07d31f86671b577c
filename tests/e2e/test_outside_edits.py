"""Edits from outside the editor (HTTP API, Django admin) reach an open editor live."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from notes.services import editing, revisions, storage, tokens
from tests.e2e.people import alice
from tests.factories import make_note, make_user, share_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _api_put(server, note, key, markdown):
    request = urllib.request.Request(
        f"{server.http_url}/api/notes/{note.pk}/",
        data=json.dumps({"markdown": markdown}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_api_put_and_admin_edit_show_in_an_open_editor_without_duplication(open_note, server):
    owner = alice()
    staff = make_user("root", is_staff=True, is_superuser=True)
    note = make_note(owner=owner, title="Runbook", text="first line\nsecond line\n")
    key = tokens.api_token_create(user=owner, name="script")[1]
    share_note(note, staff, "viewer")  # the browser helper opens the note page first

    a = open_note(owner, note)
    # Alice's cursor sits at the end of the first line.
    a.editor.locator(".cm-line").first.click()
    a.page.keyboard.press("End")

    # A script replaces the second line through the API.
    body = _api_put(server, note, key, "first line\nsecond line, from the API\n")
    assert body["markdown"] == "first line\nsecond line, from the API\n"
    a.wait_for_text("first line\nsecond line, from the API\n")

    # Her cursor did not move: what she types lands where it was.
    a.page.keyboard.type("!")
    a.wait_for_text("first line!\nsecond line, from the API\n")
    expect(a.save).to_have_text("Saved")

    # Staff edit the note in the Django admin; the open editor follows.
    admin = open_note(staff, note, wait=False)
    admin.page.goto(f"{server.http_url}/admin/notes/note/{note.pk}/change/")
    expect(admin.page.locator("#id_content")).to_have_value(
        "first line!\nsecond line, from the API\n"
    )
    admin.page.fill("#id_content", "first line!\nsecond line, from the API\nthird, from admin\n")
    admin.page.click("input[name=_save]")
    expect(admin.page.locator(".messagelist")).to_contain_text("changed successfully")
    a.wait_for_text("first line!\nsecond line, from the API\nthird, from admin\n")
    assert storage.note_current_text(note_id=note.pk) == a.text()


def test_restoring_a_version_reaches_an_open_editor_and_keeps_its_typing(open_note, server):
    owner = alice()
    colleague = make_user("bob", first_name="Bob")
    note = make_note(owner=owner, title="Plan", text="# Plan\n\nstep one\n")
    share_note(note, colleague, "editor")
    good = revisions.revision_save(note=note, name="Good plan", user=owner)
    editing.note_text_replace(note=note, text="# Plan\n\nstep one\nbad idea\n", author=owner)

    bob = open_note(colleague, note)
    bob.wait_for_text("# Plan\n\nstep one\nbad idea\n")
    history = open_note(owner, note, wait=False)
    history.page.goto(f"{server.http_url}/notes/{note.pk}/history/?rev={good.pk}")
    expect(history.page.locator(".diff-added")).to_contain_text("bad idea")
    # Bob has typed at the start (saved) when Alice restores: the restore brings back the
    # version exactly, so it takes out his saved words too, as an edit he sees at once.
    bob.editor.click()
    bob.page.keyboard.press("Control+Home")
    bob.page.keyboard.type("Bob: ")
    expect(bob.save).to_have_text("Saved")
    history.page.click("#restore-button")
    expect(history.page).to_have_url(f"{server.http_url}/notes/{note.pk}/")
    bob.wait_for_text("# Plan\n\nstep one\n")
    # His editor carries on where his cursor was, with nothing duplicated.
    bob.page.keyboard.type("ok ")
    bob.wait_for_text("ok # Plan\n\nstep one\n")
    expect(bob.save).to_have_text("Saved")
    assert storage.note_current_text(note_id=note.pk) == "ok # Plan\n\nstep one\n"
    assert note.revisions.get(kind="before_restore").text == "Bob: # Plan\n\nstep one\nbad idea\n"
    kinds = list(note.revisions.values_list("kind", flat=True)[:2])
    assert kinds == ["restore", "before_restore"]
