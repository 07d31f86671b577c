"""
Fixtures for the deployment tests: the production stack of docs/deploy.md (tests/deploy/stack.py)
and Chromium that trusts its certificate and reaches the site only through nginx.

The stack needs PostgreSQL, as production does: with the SQLite test database these tests skip
(CI runs them in its PostgreSQL and Redis pass). With PostgreSQL, a missing nginx, Redis or
Chromium skips locally and fails under CI=true (tests/services.py).
"""

import tempfile
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS, EXPECTED_CONSOLE, NotePage
from tests.factories import PASSWORD
from tests.services import require, require_chromium, require_redis

from . import stack as stack_module


@pytest.fixture
def stack(transactional_db):
    """nginx with TLS in front of two daphne processes, Redis and this run's PostgreSQL
    database; stopped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "deployment tests run against PostgreSQL, as production does: set DATABASE_URL="
            "postgres://... (CI runs them in its PostgreSQL and Redis pass)"
        )
    nginx = stack_module.nginx_binary()
    require(nginx is not None, "nginx is not installed (apt-get install nginx)")
    redis_url = require_redis()
    with tempfile.TemporaryDirectory(prefix="collab-deploy-") as tmp:
        running = stack_module.build(Path(tmp), nginx=nginx, redis_url=redis_url)
        try:
            yield running
        finally:
            stack_module.stop(running)
            stack_module.live._wait_for_other_sessions_to_end()


class Browsers:
    """Chromium, started on first use; each person gets a context of their own."""

    def __init__(self, stack, monkeypatch):
        self.stack = stack
        self.monkeypatch = monkeypatch
        self._playwright = None
        self._browser = None
        self.tabs: list[NotePage] = []

    def _get(self):
        if self._browser is None:
            # Tests still use the ORM (through the sync API's loop thread) after this starts.
            self.monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=require_chromium(),
                # Trust this stack's certificate by its key, and nothing else extra.
                args=[
                    *CHROMIUM_ARGS,
                    f"--ignore-certificate-errors-spki-list={self.stack.spki_hash}",
                ],
            )
        return self._browser

    def log_in(self, user, note) -> NotePage:
        """Log in through the site's login form and land on the note."""
        context = self._get().new_context(viewport={"width": 1000, "height": 640})
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = NotePage(page=page, context=context)
        tab.sockets = []  # every WebSocket this tab opens, in order

        def on_console(message):
            if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE):
                tab.errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
        page.on("websocket", lambda socket: tab.sockets.append(socket.url))
        page.goto(f"{self.stack.origin}/accounts/login/?next=/notes/{note.pk}/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{self.stack.origin}/notes/{note.pk}/")
        self.tabs.append(tab)
        return tab.wait_ready()

    def stop(self) -> None:
        for tab in self.tabs:
            tab.context.close()
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture
def browsers(stack, monkeypatch):
    require_chromium()
    running = Browsers(stack, monkeypatch)
    try:
        yield running
        errors = [error for tab in running.tabs for error in tab.errors]
        assert not errors, f"errors in the browser console: {errors}"
    finally:
        running.stop()
