"""The Markdown preview runs nothing from a note; the layout is remembered and fits a phone."""

import pytest
from playwright.sync_api import expect

from tests.e2e.people import alice
from tests.factories import make_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOADS = "\n\n".join(
    [
        "# Payloads",
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=1">',
        "[a link](javascript:window.__pwned=1)",
        '<a href="javascript:window.__pwned=1">html link</a>',
        '<svg><script>window.__pwned=1</script></svg><svg onload="window.__pwned=1"></svg>',
        '<iframe src="javascript:window.__pwned=1"></iframe>',
        '<form action="https://example.invalid/"><input name="q"><button>Go</button></form>',
        "<style>body { display: none }</style>",
        '<p id="editor" style="position:fixed;inset:0">overlay</p>',
        "**still rendered**",
    ]
)
DANGEROUS = "script, iframe, svg, style, form, input, button, [onerror], [onload], [style]"


def _inert(page):
    preview = page.locator("#preview")
    assert page.evaluate("window.__pwned") is None
    assert preview.locator(DANGEROUS).count() == 0
    hrefs = preview.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.strip().lower().startswith("javascript:")], hrefs
    # A note's ids cannot clobber the page's own elements.
    assert page.locator("#editor").count() == 1


def test_a_note_with_script_payloads_renders_inert(open_note):
    owner = alice()
    note = make_note(owner=owner, title="Hostile", text=PAYLOADS)
    a = open_note(owner, note)
    preview = a.page.locator("#preview")
    expect(preview.locator("strong")).to_have_text("still rendered")
    expect(preview.locator("h1")).to_have_text("Payloads")
    a.page.wait_for_timeout(300)  # time for a failing image's onerror, had it survived
    _inert(a.page)

    # Typed live, too.
    a.type_at_end('\n\n<img src=y onerror="window.__pwned=2"> typed live')
    expect(preview).to_contain_text("typed live")
    a.page.wait_for_timeout(300)
    _inert(a.page)
    # The sanitised images (src=x, src=y) fail to load: that is the only expected noise.
    a.errors[:] = [e for e in a.errors if not e.startswith("Failed to load resource")]


def test_layout_choice_is_remembered_and_the_page_fits_a_phone(open_note):
    owner = alice()
    note = make_note(owner=owner, title="A title long enough to need wrapping on a phone", text="")
    a = open_note(owner, note, width=375, height=720)
    html = a.page.locator("html")
    expect(html).to_have_attribute("data-view-mode", "split")
    expect(a.editor).to_have_attribute("aria-label", "Note text (Markdown)")
    expect(a.page.locator(".cm-placeholder")).to_have_text("Start writing…")

    a.page.get_by_role("button", name="Preview").click()
    expect(html).to_have_attribute("data-view-mode", "preview")
    expect(a.page.get_by_role("button", name="Preview")).to_have_attribute("aria-pressed", "true")
    expect(a.editor).to_be_hidden()
    a.page.reload()
    expect(a.connection).to_have_text("Connected")
    expect(html).to_have_attribute("data-view-mode", "preview")
    expect(a.page.locator("#preview")).to_be_visible()

    # Keyboard: the layout buttons are real buttons, reachable and usable without a mouse.
    editor_button = a.page.get_by_role("button", name="Editor")
    editor_button.focus()
    a.page.keyboard.press("Enter")
    expect(html).to_have_attribute("data-view-mode", "editor")
    expect(a.page.locator("#preview")).to_be_hidden()
    a.type_at_end("Typed on a phone")
    expect(a.save).to_have_text("Saved")

    overflow = a.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 375px"
    a.screenshot("phone-375")
