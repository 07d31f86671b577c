"""The note's chat in real Chromium: two people (the second a viewer) talk beside the note."""

import pytest
from playwright.sync_api import expect

from notes.models import ChatMessage
from tests.e2e.people import alice
from tests.factories import make_note, make_user, share_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK_REL = "noopener noreferrer nofollow"
XSS = '<img src=x onerror="window.__pwned=1"> [click](javascript:alert(1))'
TOO_LONG_ERROR = "A message is at most 4,000 characters; this one has 4,001."


def _message(tab, text: str):
    return tab.page.locator("#chat-list > li", has_text=text)


def test_two_people_chat_live_with_edits_deletes_and_hostile_text(open_note):
    owner = alice()
    bob = make_user("bob", first_name="Bob", last_name="Stone")
    note = make_note(owner=owner, title="Standup", text="Today:\n")
    share_note(note, bob, "viewer")
    a = open_note(owner, note)
    b = open_note(bob, note, width=420, height=800)  # a narrow window: the chat sits below
    dialogs = []
    for tab in (a, b):
        tab.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        expect(tab.page.locator("#chat-panel")).to_be_hidden()
        expect(tab.page.locator("#chat-toggle")).to_have_attribute("aria-expanded", "false")

    # A opens the chat and posts with Enter.
    a.page.locator("#chat-toggle").click()
    expect(a.page.locator("#chat-toggle")).to_have_attribute("aria-expanded", "true")
    expect(a.page.locator("#chat-state")).to_have_text("No messages yet. Say hello!")
    a_input = a.page.get_by_label("Message", exact=True)
    expect(a_input).to_be_focused()
    a_input.fill("Hello **team**, see https://example.com")
    a_input.press("Enter")
    expect(a_input).to_have_value("")
    expect(_message(a, "Hello")).to_have_count(1)

    # B, panel closed, sees the unread badge; opening the panel shows the message and clears it.
    expect(b.page.locator("#chat-unread")).to_be_visible()
    expect(b.page.locator("#chat-unread .chat-unread-count")).to_have_text("1")
    expect(b.page.locator("#chat-panel")).to_be_hidden()
    b.page.locator("#chat-toggle").click()
    expect(b.page.locator("#chat-unread")).to_be_hidden()
    hello = _message(b, "Hello")
    expect(hello.locator(".chat-author")).to_have_text("Alice Martin")
    expect(hello.locator(".chat-text strong")).to_have_text("team")
    link = hello.locator(".chat-text a")
    expect(link).to_have_attribute("href", "https://example.com/")
    expect(link).to_have_attribute("rel", LINK_REL)
    expect(link).to_have_attribute("target", "_blank")
    # A viewer may neither edit nor delete someone else's message.
    expect(hello.locator(".chat-action")).to_have_count(0)

    # B, a viewer, replies; Shift+Enter makes a new line.
    b_input = b.page.get_by_label("Message", exact=True)
    b_input.type("Thanks!")
    b_input.press("Shift+Enter")
    b_input.type("On my way")
    b_input.press("Enter")
    reply = _message(a, "Thanks!")
    expect(reply.locator(".chat-text")).to_have_js_property("textContent", "Thanks!\nOn my way")
    expect(reply.locator(".chat-author")).to_have_text("Bob Stone")
    expect(a.page.locator("#chat-unread")).to_be_hidden()  # A's panel is open
    # The owner may delete Bob's message, but not edit it.
    expect(reply.get_by_role("button", name="Delete Bob Stone's message")).to_be_visible()
    expect(reply.get_by_role("button", name="Edit")).to_have_count(0)

    # A edits her message; B sees the new text and "(edited)".
    _message(a, "Hello").get_by_role("button", name="Edit your message").click()
    editing = a.page.get_by_label("Edit message")
    expect(editing).to_be_focused()
    editing.fill("Hello **everyone**")
    editing.press("Enter")
    expect(hello.locator(".chat-text strong")).to_have_text("everyone")
    expect(hello.locator(".chat-edited")).to_have_text("(edited)")
    expect(_message(a, "Hello").locator(".chat-edited")).to_have_text("(edited)")

    # A, the owner, deletes B's message (with a confirmation); it goes for both.
    reply.get_by_role("button", name="Delete Bob Stone's message").click()
    reply.get_by_role("button", name="Confirm: delete").click()
    for tab in (a, b):
        expect(_message(tab, "Thanks!")).to_have_count(0)
        expect(tab.page.locator("#chat-list > li")).to_have_count(1)

    # Hostile text is shown as typed, never run.
    b_input.fill(XSS)
    b_input.press("Enter")
    for tab in (a, b):
        hostile = _message(tab, "onerror")
        expect(hostile.locator(".chat-text")).to_have_js_property("textContent", XSS)
        expect(hostile.locator(".chat-text *")).to_have_count(0)
        assert tab.page.evaluate("window.__pwned === undefined")
    expect(a.page.locator("#chat-list img")).to_have_count(0)

    # Over the limit: the counter says so, the server's reason shows, the text stays.
    a_input.fill("x" * 4001)
    expect(a.page.locator("#chat-counter")).to_have_text("4,001 / 4,000")
    a_input.press("Enter")
    expect(a.page.locator("#chat-error")).to_have_text(TOO_LONG_ERROR)
    expect(a_input).to_have_value("x" * 4001)
    expect(a.page.locator("#chat-list > li")).to_have_count(2)

    # B's open panel is remembered; the history loads with the page.
    b.page.reload()
    b.wait_ready()
    expect(b.page.locator("#chat-panel")).to_be_visible()
    expect(b.page.locator("#chat-list > li")).to_have_count(2)
    expect(_message(b, "everyone").locator(".chat-edited")).to_have_text("(edited)")
    # The chat fits the narrow window: nothing in it reaches past the right edge.
    overflow = b.page.evaluate(
        """[...document.querySelectorAll('#chat-panel, #chat-panel *, #chat-toggle')]
            .map(e => e.getBoundingClientRect().right - window.innerWidth)
            .reduce((a, b) => Math.max(a, b), -Infinity)"""
    )
    assert overflow <= 0, f"the chat reaches {overflow}px past the right edge at 420px"
    expect(b.page.locator("#chat-older")).to_be_hidden()  # all of the history is shown

    assert dialogs == []
    # The refused post is the one failed request the browser reports.
    refused = [e for e in a.errors if e.startswith("Failed to load resource") and "400" in e]
    assert len(refused) == 1, a.errors
    a.errors[:] = [e for e in a.errors if e not in refused]


def test_older_messages_load_on_scrolling_to_the_top(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Long chat", text="")
    ChatMessage.objects.bulk_create(
        ChatMessage(note=note, author=owner, text=f"old message {i}") for i in range(1, 121)
    )
    a = open_note(owner, note)
    expect(a.page.locator("#chat-unread")).to_be_hidden()  # history is not unread
    a.page.locator("#chat-toggle").click()
    items = a.page.locator("#chat-list > li")
    expect(items).to_have_count(100)
    expect(items.first.locator(".chat-text")).to_have_text("old message 21")
    expect(items.last.locator(".chat-text")).to_have_text("old message 120")
    expect(a.page.locator("#chat-older")).to_be_visible()

    a.page.locator("#chat-scroll").evaluate("element => { element.scrollTop = 0 }")
    expect(items).to_have_count(120)
    expect(items.first.locator(".chat-text")).to_have_text("old message 1")
    expect(a.page.locator("#chat-older")).to_be_hidden()
