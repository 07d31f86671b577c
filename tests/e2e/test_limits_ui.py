"""The editor tells its user when a limit closed the note."""

import pytest
from playwright.sync_api import expect

from notes.services import storage
from tests import live
from tests.e2e.people import alice
from tests.factories import make_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db):
    with live.daphne(NOTES_MAX_NOTE_BYTES="200") as running:
        yield running


def test_an_edit_past_the_size_limit_is_refused_and_the_editor_says_so(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Nearly full", text="x" * 150 + "\n")
    a = open_note(owner, note)
    a.editor.click()
    a.page.keyboard.press("Control+End")
    a.page.keyboard.insert_text("y" * 100)  # one paste: 100 bytes more than fits
    expect(a.connection).to_have_text("Closed: This note is too large to save more changes")
    expect(a.editor).to_have_attribute("contenteditable", "false")
    a.page.wait_for_timeout(500)
    expect(a.connection).to_contain_text("too large")  # final: no reconnect loop
    assert storage.note_current_text(note_id=note.pk) == "x" * 150 + "\n"
