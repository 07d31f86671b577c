"""
Browser fixtures: a live daphne, Chromium driven by Playwright, and logged-in note pages.

Playwright's sync API keeps an asyncio loop running in this thread while it is started. Django
then refuses ORM calls ("cannot call this from an async context") and `async_to_sync` (used by
the services' on-commit broadcasts) refuses outright. So Chromium starts lazily, at the first
`open_note(...)`: a test creates its users and notes first, then opens pages. While the browser
runs, DJANGO_ALLOW_ASYNC_UNSAFE lets tests log users in (we are not inside a coroutine), and
Playwright stops before the transactional database is flushed.
"""

import base64
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests import live
from tests.services import require_chromium

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium reports failed WebSocket handshakes (server down, offline) as console errors; those
# are expected in the reconnect tests. Anything else on the console fails the test.
EXPECTED_CONSOLE = ("WebSocket connection to", "net::ERR_INTERNET_DISCONNECTED")

expect.set_options(timeout=10_000)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def server(transactional_db):
    with live.daphne() as running:
        yield running


class LazyChromium:
    """Playwright and Chromium, started on first use and stopped by the fixture."""

    def __init__(self, executable: str, monkeypatch):
        self.executable = executable
        self.monkeypatch = monkeypatch
        self._playwright = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None:
            self.monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=CHROMIUM_ARGS
            )
        return self._browser

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture
def chromium(transactional_db, monkeypatch):
    lazy = LazyChromium(require_chromium(), monkeypatch)
    try:
        yield lazy
    finally:
        lazy.stop()


@dataclass
class NotePage:
    """One browser tab on a note, in its own browser context (its own cookies and network)."""

    page: Page
    context: BrowserContext
    errors: list = field(default_factory=list)

    @property
    def editor(self):
        return self.page.locator("#editor .cm-content")

    @property
    def connection(self):
        return self.page.locator("#connection-status")

    @property
    def save(self):
        return self.page.locator("#save-status")

    def wait_ready(self) -> "NotePage":
        expect(self.editor).to_be_visible()
        expect(self.connection).to_have_attribute("data-state", "connected")
        return self

    def type_at_end(self, text: str) -> None:
        self.editor.click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.type(text)

    def text(self) -> str:
        """The shared document's text as this tab has it."""
        return self.page.evaluate("collabNotes.doc.getText('content').toString()")

    def wait_for_text(self, expected: str) -> None:
        """Wait until this tab's copy of the document reads exactly `expected`."""
        self.page.wait_for_function(
            "expected => collabNotes.doc.getText('content').toString() === expected", arg=expected
        )

    def screenshot(self, name: str) -> bytes:
        ARTIFACTS.mkdir(exist_ok=True)
        return self.page.screenshot(path=ARTIFACTS / f"{name}.png")


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def open_note(request, chromium: LazyChromium, server):
    """Open a note as a user in a fresh browser context; returns a NotePage once synced."""
    opened: list[NotePage] = []

    def open_(user, note, *, width: int = 1100, height: int = 720, wait: bool = True) -> NotePage:
        context = chromium.get().new_context(viewport={"width": width, "height": height})
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": session_cookie(user),
                    "domain": "127.0.0.1",
                    "path": "/",
                }
            ]
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        tab = NotePage(page=page, context=context)

        def on_console(message):
            if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE):
                tab.errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
        page.goto(f"{server.http_url}/notes/{note.pk}/")
        opened.append(tab)
        return tab.wait_ready() if wait else tab

    yield open_

    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        for i, tab in enumerate(opened):
            try:
                tab.screenshot(f"failed-{request.node.name}-{i}")
            except Exception:  # the page may be gone; the failure itself matters more
                pass
    for tab in opened:
        tab.context.close()
    errors = [error for tab in opened for error in tab.errors]
    assert not errors, f"errors in the browser console: {errors}"


def side_by_side(browser: Browser, shots: list[tuple[str, bytes]], path: Path) -> None:
    """Compose screenshots into one image with captions (the browser does the layout)."""
    figures = "".join(
        f'<figure><figcaption>{caption}</figcaption><img src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"></figure>'
        for caption, png in shots
    )
    page = browser.new_page(viewport={"width": 800, "height": 400}, device_scale_factor=1)
    page.set_content(
        "<style>body{margin:0;padding:16px;background:#c9ced6;font:600 15px system-ui;"
        "display:flex;gap:16px;align-items:flex-start;width:max-content}"
        "figure{margin:0}figcaption{margin:0 0 6px}"
        "img{display:block;border-radius:6px;box-shadow:0 2px 10px #0004}</style>" + figures
    )
    page.wait_for_function("[...document.images].every(i => i.complete)")
    page.screenshot(path=path, full_page=True)
    page.close()
