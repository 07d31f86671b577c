"""People editing through the documented production site: Chromium over https:// and wss://,
two daphne processes behind nginx, the official y-websocket client, and a rolling upgrade
(migrations, then each process replaced in turn) while everyone types."""

import time

import pytest
from playwright.sync_api import expect

from notes.services import storage
from tests.factories import make_note, make_user, share_note
from tests.jsclients import TOKEN, assert_every_token_once, run_clients
from tests.services import require_js_clients

from . import stack as stack_module

pytestmark = [pytest.mark.deploy, pytest.mark.browser]


def _people():
    alice = make_user("alice", first_name="Alice", last_name="Martin")
    bob = make_user("bob", first_name="Bob", last_name="Stone")
    note = make_note(owner=alice, title="Runbook", text="# Runbook\n")
    share_note(note, bob, "editor")
    return alice, bob, note


def _sockets_per_process(stack) -> list[float]:
    return [d.metric("collab_notes_open_sockets") for d in stack.daphnes]


def _on_different_processes(stack, second) -> list[float]:
    """Each of the two editors' sockets, per process. least_conn sends the second socket to the
    process without one, unless a short request of the page was still in flight there and made
    it a tie; then reopen the second tab (a few times at most) and ask again."""
    for attempt in range(4):
        deadline = time.monotonic() + 5
        counts = _sockets_per_process(stack)
        while sum(counts) != 2 and time.monotonic() < deadline:  # a closed socket leaving
            time.sleep(0.1)
            counts = _sockets_per_process(stack)
        if counts == [1, 1] or attempt == 3:
            return counts
        second.page.reload()
        second.wait_ready()
    return counts


def _set_role(owner_tab, stack, note, username: str, role: str) -> None:
    """Change someone's role on the owner's share page, through the site."""
    page = owner_tab.context.new_page()
    page.goto(f"{stack.origin}/notes/{note.pk}/share/")
    member = page.locator(f'li.member[data-user="{username}"]')
    member.get_by_label(f"Role of {username}").select_option(role)
    member.get_by_role("button", name="Change").click()
    page.wait_for_load_state()
    page.close()


def test_two_people_edit_over_wss_on_different_processes(stack, browsers):
    alice, bob, note = _people()
    a = browsers.log_in(alice, note)
    b = browsers.log_in(bob, note)

    for tab in (a, b):
        assert tab.sockets and all(
            url.startswith(f"wss://{stack_module.HOST}:") for url in tab.sockets
        )
    # The balancer sent the second editor to the process the first one was not on.
    assert _on_different_processes(stack, b) == [1, 1]

    a.type_at_end("\n- rotate the keys")
    expect(b.editor).to_contain_text("- rotate the keys")
    expect(b.page.locator(".cm-ySelectionInfo", has_text="Alice Martin")).to_be_visible()
    b.type_at_end("\ntell the team")  # Enter continues the list
    expect(a.editor).to_contain_text("- tell the team")
    expect(a.page.locator(".cm-ySelectionInfo", has_text="Bob Stone")).to_be_visible()
    for tab in (a, b):
        expect(tab.save).to_have_text("Saved")
    assert a.text() == b.text() == "# Runbook\n\n- rotate the keys\n- tell the team"

    # A change of access crosses processes too: Bob's open editor becomes read-only at once.
    _set_role(a, stack, note, "bob", "viewer")
    expect(b.editor).to_have_attribute("contenteditable", "false")
    expect(b.page.locator("#access-status")).to_have_text("View only")
    _set_role(a, stack, note, "bob", "editor")
    expect(b.editor).to_have_attribute("contenteditable", "true")
    b.type_at_end(" today")
    expect(a.editor).to_contain_text("- tell the team today")


def test_the_official_y_websocket_client_over_wss_converges_with_a_browser(
    stack, browsers, monkeypatch
):
    require_js_clients()
    alice, _bob, note = _people()
    a = browsers.log_in(alice, note)
    a.type_at_end("\nfrom the browser")
    expect(a.save).to_have_text("Saved")
    session = next(c["value"] for c in a.context.cookies() if c["name"] == "sessionid")

    # Node trusts the stack's certificate through NODE_EXTRA_CA_CERTS (inherited by run_clients).
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", str(stack.cert))
    spec = {
        "url": f"wss://{stack_module.HOST}:{stack.https_port}/ws/notes",
        "room": f"{note.pk}/",
        "cookie": session,
        "origin": stack.origin,
        "name": "node",
    }
    result = run_clients({"clients": [spec], "edits": 12, "interval_ms": 30})
    assert result["synced"] and result["converged"], result
    node_text = result["texts"][0]
    # The Node client got the browser's text, and its own tokens (typed between tokens and
    # lines) are all there once.
    assert TOKEN.sub("", node_text) == "# Runbook\n\nfrom the browser", node_text
    assert_every_token_once(node_text, ["node"], 12)
    # Everything the Node client typed reached the browser, in the same order.
    a.wait_for_text(node_text)


def test_a_rolling_upgrade_loses_nothing_while_people_type(stack, browsers):
    """docs/deploy.md, "Upgrading without downtime": migrate, then stop each daphne process with
    SIGTERM and start it again, one at a time, waiting for it to be healthy in between."""
    alice, bob, note = _people()
    a = browsers.log_in(alice, note)
    b = browsers.log_in(bob, note)
    assert _on_different_processes(stack, b) == [1, 1]
    typed: list[str] = []
    count = 0

    def type_a_little() -> None:
        """Alice adds a token at the end, Bob one at the start: far apart, so a keystroke of
        one that reaches the other late can never land inside the other's token."""
        nonlocal count
        a.type_at_end(f" <a:{count}>")
        b.editor.click()
        b.page.keyboard.press("Control+Home")
        b.page.keyboard.type(f"<b:{count}> ")
        typed.extend([f"<a:{count}>", f"<b:{count}>"])
        count += 1

    type_a_little()
    migrated = stack.manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    for daphne in stack.daphnes:
        type_a_little()
        assert daphne.stop() == 0, daphne.log()  # SIGTERM, as systemd stops it
        type_a_little()  # someone's socket was on it: they type on, reconnecting meanwhile
        daphne.start()
        daphne.wait_healthy()
        for tab in (a, b):
            expect(tab.connection).to_have_attribute("data-state", "connected")
        type_a_little()
        # nginx skips a process that refused a connection for fail_timeout; the procedure
        # waits that out before stopping the next one, so one process is always in use.
        time.sleep(stack_module.FAIL_TIMEOUT)

    # A plain request the page makes at the instant a process stops (the chat panel refetches
    # its newest messages on every reconnect) may meet nginx's 502; the browser logs that, the
    # panel fetches again on the next reconnect, and the editors' contract is checked below.
    for tab in (a, b):
        tab.errors[:] = [e for e in tab.errors if "status of 502" not in e]
    for tab in (a, b):
        expect(tab.save).to_have_text("Saved")
    text = a.text()
    b.wait_for_text(text)
    for token in typed:
        assert text.count(token) == 1, f"{token} is in the text {text.count(token)} times"
    # "Saved" on both means the database has it all.
    assert storage.note_current_text(note_id=note.pk) == text
    # Each editor lost its socket at least once and opened a new one by itself.
    for tab in (a, b):
        assert len(tab.sockets) >= 2, tab.sockets
