"""Edits from outside the editor (HTTP API, Django admin) reach an open editor live."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from notes import services
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
    key = services.api_token_create(user=owner, name="script")[1]
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
    assert services.note_current_text(note_id=note.pk) == a.text()
