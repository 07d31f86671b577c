"""When WebSockets are blocked, the editor and the notes list carry on over HTTP, and move back
to WebSocket once it works again (real Chromium, real daphne; docs/protocol.md, "The HTTP
transport")."""

import re

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.people import alice, display_name, second_person
from tests.factories import make_note, make_user, share_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page tries a WebSocket again this often while on HTTP (a minute in real use).
PROBE_MS = 1500
FAST_PROBES = f"window.collabNotesTransport = {{ probeIntervalMs: {PROBE_MS} }}"
ACCESS_REMOVED = re.compile(
    r"^Closed: (You no longer have access to this note|Your access to this note was removed)$"
)


class WebSocketBlocker:
    """Blocks every WebSocket a page opens, as a proxy that strips Upgrade does: the handshake
    fails and the socket closes with 1006 before it opens. `blocked = False` lets the next ones
    through to the server."""

    def __init__(self, page: Page):
        self.blocked = True
        self.refused = 0
        self.passed = 0
        page.route_web_socket(re.compile(r".*"), self._route)

    def _route(self, route: WebSocketRoute) -> None:
        if self.blocked:
            self.refused += 1
            route.close(code=1006, reason="")
        else:
            self.passed += 1
            route.connect_to_server()


def blocked_from_the_start(page: Page) -> WebSocketBlocker:
    """Block the page's WebSockets and load it again, so that none ever gets through."""
    blocker = WebSocketBlocker(page)
    page.add_init_script(FAST_PROBES)
    page.reload()
    return blocker


def over_http(tab) -> bool:
    return tab.page.evaluate("collabNotes.connection.overHttp")


def test_editing_over_http_and_back_to_websocket_loses_and_repeats_nothing(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Behind a proxy", text="start\n")
    other = second_person(note, owner)
    a = open_note(owner, note)  # WebSockets work for A
    b = open_note(other, note, wait=False)
    blocker = blocked_from_the_start(b.page)

    b.wait_ready()
    expect(b.connection).to_have_text("Connected over HTTP")
    expect(a.connection).to_have_text("Connected")
    assert over_http(b) and not over_http(a)
    assert blocker.refused >= 3 and blocker.passed == 0

    # Both type, one after the other; each sees the other's text, caret and typing.
    expected = "start\n"
    for turn in ("A over WebSocket. ", "B over HTTP. ", "A again. ", "B again. "):
        writer, reader = (a, b) if turn.startswith("A") else (b, a)
        writer.type_at_end(turn)
        expected += turn
        writer_name = display_name(owner if writer is a else other)
        if other != owner:
            expect(reader.page.locator("#presence-typing")).to_have_text(
                f"{writer_name} is typing…"
            )
        reader.wait_for_text(expected)
    expect(a.page.locator(".cm-ySelectionInfo", has_text=display_name(other))).to_be_visible()
    expect(b.page.locator(".cm-ySelectionInfo", has_text=display_name(owner))).to_be_visible()
    for tab in (a, b):
        expect(tab.page.locator("#presence-list > li")).to_have_count(1 if other == owner else 2)
        expect(tab.save).to_have_text("Saved")

    # WebSockets work again. B keeps typing until a probe has found out and the editor has
    # left HTTP, without a reload, and goes on typing while it reconnects over a WebSocket.
    blocker.blocked = False
    b.editor.click()
    b.page.keyboard.press("Control+End")
    words = iter(f"w{i} " for i in range(300))
    while over_http(b):
        word = next(words)  # runs out (and fails the test) if the editor never moves back
        b.page.keyboard.type(word, delay=40)
        expected += word
    after = "typed while moving back. "
    b.page.keyboard.type(after, delay=40)
    expected += after
    expect(b.connection).to_have_text("Connected", timeout=15_000)
    assert not over_http(b)
    assert blocker.passed >= 2  # the probe, then the editor's own socket
    a.wait_for_text(expected)

    # Edits keep flowing both ways over WebSockets.
    for turn in ("A last. ", "B last."):
        writer, reader = (a, b) if turn.startswith("A") else (b, a)
        writer.type_at_end(turn)
        expected += turn
        reader.wait_for_text(expected)
    for tab in (a, b):
        expect(tab.save).to_have_text("Saved")
    # Every character typed is there exactly once, in both tabs.
    assert a.text() == b.text() == expected


def set_role(owner_tab, server, note, username: str, role: str | None) -> None:
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


def test_access_changes_reach_an_editor_over_http(open_note, server):
    owner = alice()
    bob = make_user("bob", first_name="Bob", last_name="Stone")
    note = make_note(owner=owner, title="Shared", text="")
    share_note(note, bob, "editor")
    a = open_note(owner, note)
    b = open_note(bob, note, wait=False)
    blocked_from_the_start(b.page)
    b.wait_ready()
    expect(b.connection).to_have_text("Connected over HTTP")
    b.type_at_end("Bob was here")
    expect(b.save).to_have_text("Saved")

    set_role(a, server, note, "bob", "viewer")
    expect(b.page.locator("#access-status")).to_be_visible()
    expect(b.editor).to_have_attribute("contenteditable", "false")
    expect(b.save).to_have_text("")
    expect(b.connection).to_have_text("Connected over HTTP")

    set_role(a, server, note, "bob", "editor")
    expect(b.page.locator("#access-status")).to_be_hidden()
    expect(b.editor).to_have_attribute("contenteditable", "true")
    b.type_at_end(", twice")
    expect(b.save).to_have_text("Saved")
    a.wait_for_text("Bob was here, twice")

    set_role(a, server, note, "bob", None)
    expect(b.connection).to_have_text(ACCESS_REMOVED)
    expect(b.editor).to_have_attribute("contenteditable", "false")


def test_the_notes_list_stays_live_over_http_and_moves_back(open_note, server):
    owner = alice()
    bob = make_user("bob", first_name="Bob", last_name="Stone")
    plans = make_note(owner=owner, title="Plans", text="draft\n")
    bobs = make_note(owner=bob, title="Bob's own", text="")

    # Bob watches his notes list through a network that blocks WebSockets.
    b = open_note(bob, bobs, wait=False)
    blocker = WebSocketBlocker(b.page)
    b.page.add_init_script(FAST_PROBES)
    b.page.goto(f"{server.http_url}/")
    # Three refused handshakes with the list's backoff (1 s, 2 s, 4 s), then HTTP.
    expect(b.page.locator("body[data-live=on][data-transport=http]")).to_have_count(
        1, timeout=20_000
    )
    assert blocker.refused >= 3 and blocker.passed == 0

    # Alice shares her note with Bob: it appears in his list.
    a = open_note(owner, plans)
    a.page.goto(f"{server.http_url}/notes/{plans.pk}/share/")
    a.page.fill("#id_who", "bob")
    a.page.select_option("select[name=role]", "editor")
    a.page.click("button:has-text('Share')")
    shared = b.page.locator(f'.note-item[data-note-id="{plans.pk}"]')
    expect(shared.locator(".note-title")).to_have_text("Plans")

    # She edits it: Bob sees who is editing and the new text.
    a.page.goto(f"{server.http_url}/notes/{plans.pk}/")
    a.wait_ready()
    expect(shared.locator(".note-editing")).to_have_text(re.compile(r"Editing: Alice"))
    a.type_at_end("launch on Monday")
    expect(shared.locator(".note-preview")).to_contain_text("launch on Monday")

    # WebSockets work again: the list moves back by itself and stays live.
    blocker.blocked = False
    expect(b.page.locator("body[data-live=on][data-transport=websocket]")).to_have_count(
        1, timeout=15_000
    )
    assert blocker.passed >= 1
    a.page.fill("#note-title-input", "Plans v2")
    a.page.keyboard.press("Enter")
    expect(shared.locator(".note-title")).to_have_text("Plans v2")
