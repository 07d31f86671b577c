"""The editor's connection and save indicators stay honest through outages, in real Chromium."""

import pytest
from playwright.sync_api import expect

from tests import live
from tests.e2e.people import alice, second_person
from tests.factories import make_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Record every state the indicators pass through, however briefly.
RECORD_STATES = """() => {
  window.__states = { save: [], connection: [] }
  const watch = (id, list, read) => {
    const el = document.getElementById(id)
    const note = () => { const v = read(el); if (list[list.length - 1] !== v) list.push(v) }
    note()
    new MutationObserver(note).observe(el, { attributes: true, childList: true, subtree: true,
                                             characterData: true })
  }
  watch('save-status', window.__states.save, (el) => el.dataset.state)
  watch('connection-status', window.__states.connection, (el) => el.textContent)
}"""

# Whether leaving the page now would ask "Leave site? Changes you made may not be saved."
WOULD_WARN_ON_LEAVE = """() => {
  const event = new Event('beforeunload', { cancelable: true })
  window.dispatchEvent(event)
  return event.defaultPrevented
}"""


def states(tab) -> dict:
    return tab.page.evaluate("window.__states")


def test_offline_edits_are_kept_and_sync_when_back(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Trip", text="Packing list\n")
    other = second_person(note, owner)
    a = open_note(owner, note)
    b = open_note(other, note)
    a.page.evaluate(RECORD_STATES)

    a.context.set_offline(True)
    expect(a.connection).to_have_text("Offline — edits are kept and will sync")
    a.type_at_end("\nwritten offline")
    expect(a.save).to_have_text("Unsaved changes")
    assert a.page.evaluate(WOULD_WARN_ON_LEAVE)
    b.type_at_end("\nwritten by B meanwhile")
    expect(b.save).to_have_text("Saved")
    assert "written offline" not in b.text()
    assert "meanwhile" not in a.text()

    a.context.set_offline(False)
    expect(a.connection).to_have_text("Connected")
    expect(a.save).to_have_text("Saved")
    assert not a.page.evaluate(WOULD_WARN_ON_LEAVE)
    expect(b.editor).to_contain_text("written offline")
    expect(a.editor).to_contain_text("written by B meanwhile")
    assert a.text() == b.text()

    seen = states(a)
    assert seen["save"][0] == "saved"
    assert "unsaved" in seen["save"]
    assert seen["save"][-1] == "saved"
    assert seen["save"].index("unsaved") < len(seen["save"]) - 1
    assert "Offline — edits are kept and will sync" in seen["connection"]
    assert seen["connection"][-1] == "Connected"


def test_saved_survives_a_server_crash_and_the_editor_reconnects(open_note, server):
    owner = alice()
    note = make_note(owner=owner, title="Durable", text="")
    a = open_note(owner, note)
    a.page.evaluate(RECORD_STATES)

    a.type_at_end("every word counts")
    expect(a.save).to_have_text("Saved")
    # "Saved" claims the edit is in the database: kill the server without warning.
    live.restart(server)

    expect(a.connection).to_have_text("Connected")
    expect(a.save).to_have_text("Saved")
    seen = states(a)["connection"]
    assert any(text.startswith("Reconnecting") for text in seen), seen

    # A fresh tab, served by the new process from the database alone, has the text.
    fresh = open_note(owner, note)
    assert fresh.text() == "every word counts"
    # And the reconnected tab keeps working.
    a.type_at_end(", twice")
    fresh.wait_for_text("every word counts, twice")


def test_a_deleted_note_closes_for_good_and_turns_read_only(open_note, server):
    owner = alice()
    note = make_note(owner=owner, title="Short-lived", text="soon gone\n")
    a = open_note(owner, note)

    other_tab = a.context.new_page()
    other_tab.goto(f"{server.http_url}/notes/{note.pk}/delete/")
    other_tab.locator("main form button[type=submit]").click()
    expect(other_tab).to_have_url(f"{server.http_url}/")

    expect(a.connection).to_have_text("Closed: This note was deleted")
    expect(a.editor).to_have_attribute("contenteditable", "false")
    expect(a.page.locator("#note-title-input")).to_have_attribute("readonly", "")
    expect(a.page.locator("#closed-link")).to_be_visible()
    a.page.wait_for_timeout(300)
    expect(a.connection).to_have_text("Closed: This note was deleted")  # no reconnect attempt
