"""Accounts: password reset and change (pages, and the sockets they end on a real daphne), and
login and sign-up throttling."""

import asyncio
import http.client
import random
import re
import time
import uuid
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
import websockets
from axes.models import AccessAttempt
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import mail
from django.db.models import F
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from notes.views import accounts
from tests import live
from tests.factories import PASSWORD, make_note, make_user
from tests.services import require_redis
from tests.wsclient import connect

NEW_PASSWORD = "a-brand-new-passphrase-9"
LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/[^\s]+/)")


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of this test's own, so that counts never leak between tests or runs (a Redis
    cache outlives the run)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"accounts-{uuid.uuid4()}",
        }
    }


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _reset_path(user, token: str | None = None) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/accounts/reset/{uid}/{token or default_token_generator.make_token(user)}/"


# Password reset and change: pages.


@pytest.mark.django_db
def test_the_login_page_offers_a_password_reset(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in page
    assert "Forgot your password?" in page


@pytest.mark.django_db
def test_the_header_offers_a_password_change_to_the_logged_in_only(client, client_alice):
    assert 'href="/accounts/password_change/"' in client_alice.get("/").content.decode()
    assert "/accounts/password_change/" not in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_a_reset_email_has_a_working_link_that_ends_every_session(client, user, settings):
    settings.DEFAULT_FROM_EMAIL = "notes@example.com"
    elsewhere = _logged_in(user)
    response = client.post("/accounts/password_reset/", {"email": "ALICE@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert "Check your email" in client.get(response["Location"]).content.decode()
    [email] = mail.outbox
    assert email.to == ["alice@example.com"] and email.from_email == "notes@example.com"
    assert email.subject == "Reset your Collab Notes password"
    path = LINK.search(email.body).group(1)

    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_password_path = form_page.redirect_chain[-1][0]
    response = client.post(
        set_password_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/reset/done/"
    assert "Password set" in client.get(response["Location"]).content.decode()

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert elsewhere.get("/")["Location"].startswith("/accounts/login/")
    # The link worked once.
    assert "This link does not work" in Client().get(path, follow=True).content.decode()


@pytest.mark.django_db
def test_an_unknown_address_gets_the_same_answer_and_no_email(client, user):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


class _FourDaysAgo(PasswordResetTokenGenerator):
    def _now(self):
        return datetime.now() - timedelta(days=4)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["bad", "expired"])
def test_a_bad_or_expired_reset_link_is_refused_with_a_clear_message(client, user, kind):
    token = "bad-token" if kind == "bad" else _FourDaysAgo().make_token(user)
    response = client.get(_reset_path(user, token), follow=True)
    page = response.content.decode()
    assert "This link does not work" in page
    assert "has expired, was already used, or was copied incompletely" in page
    assert 'href="/accounts/password_reset/"' in page
    response = client.post(
        _reset_path(user, token), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_a_change_needs_the_old_password(client_alice, user):
    page = client_alice.get("/accounts/password_change/").content.decode()
    assert "Change password" in page and 'name="old_password"' in page
    response = client_alice.post(
        "/accounts/password_change/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_a_change_keeps_this_browser_logged_in_and_logs_out_the_others(client_alice, user):
    elsewhere = _logged_in(user)
    response = client_alice.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == "/accounts/password_change/done/"
    assert "Password changed" in client_alice.get(response["Location"]).content.decode()
    assert client_alice.get("/").status_code == 200
    assert elsewhere.get("/")["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_change_page_needs_a_login(client):
    assert client.get("/accounts/password_change/")["Location"].startswith("/accounts/login/")


# Password reset and change: the note sockets they end, on a real daphne. The form posts go
# to daphne too, so that its hub receives the broadcast even without Redis.


class Browser:
    """A cookie-keeping HTTP client for a live server: forms are posted with their CSRF token.
    With an `address`, it says it comes from there (for a daphne run with --proxy-headers)."""

    def __init__(self, server, session_key: str | None = None, address: str | None = None):
        self.server = server
        self.cookies = {"sessionid": session_key} if session_key else {}
        self.address = address

    def request(self, method: str, path: str, data: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.address:
            headers["X-Forwarded-For"] = self.address
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers.get("Location", ""), text

    def submit(self, path: str, data: dict) -> tuple[int, str, str]:
        """Open the form page, then post `data` to it; return the status, redirect and page."""
        _, _, page = self.request("GET", path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        return self.request("POST", path, {**data, "csrfmiddlewaretoken": token})


async def _close_code(ws, within: float) -> int | None:
    """Read until the server closes the socket; None if it is still open after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def _owner_with_note():
    owner = make_user("owner")
    return owner, make_note(owner=owner, text="x")


@pytest.mark.django_db(transaction=True)
def test_a_change_closes_the_other_sessions_sockets_with_4401_and_keeps_its_own():
    owner, note = _owner_with_note()
    mine, other = (_logged_in(owner).cookies["sessionid"].value for _ in range(2))

    async def scene(server) -> tuple[int | None, int | None, tuple[int, str, str]]:
        async with connect(server, note.pk, mine) as kept, connect(server, note.pk, other) as gone:
            await asyncio.sleep(0.5)  # both joined
            browser = Browser(server, mine)
            posted = await asyncio.to_thread(
                browser.submit,
                "/accounts/password_change/",
                {
                    "old_password": PASSWORD,
                    "new_password1": NEW_PASSWORD,
                    "new_password2": NEW_PASSWORD,
                },
            )
            gone_code = await _close_code(gone, within=5)
            kept_code = await _close_code(kept, within=1)
            return gone_code, kept_code, posted

    with live.daphne() as server:
        gone_code, kept_code, posted = asyncio.run(scene(server))
    assert posted[:2] == (302, "/accounts/password_change/done/")
    assert gone_code == 4401
    assert kept_code is None, "the socket of the browser that changed the password was closed"


@pytest.mark.django_db(transaction=True)
def test_a_reset_closes_every_socket_of_the_user_with_4401():
    owner, note = _owner_with_note()
    cookies = [_logged_in(owner).cookies["sessionid"].value for _ in range(2)]
    path = _reset_path(owner)

    async def scene(server) -> tuple[list[int | None], tuple[int, str, str]]:
        async with (
            connect(server, note.pk, cookies[0]) as a,
            connect(server, note.pk, cookies[1]) as b,
        ):
            await asyncio.sleep(0.5)
            browser = Browser(server)  # the emailed link, opened in a browser not logged in
            status, location, _ = await asyncio.to_thread(browser.request, "GET", path)
            assert status == 302, "the reset link was refused"
            posted = await asyncio.to_thread(
                browser.submit,
                urlsplit(location).path,
                {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            )
            codes = await asyncio.gather(_close_code(a, within=5), _close_code(b, within=5))
            return list(codes), posted

    with live.daphne() as server:
        codes, posted = asyncio.run(scene(server))
    assert posted[:2] == (302, "/accounts/reset/done/")
    assert codes == [4401, 4401]


# Throttling. Windows here are a few seconds long, so passwords are hashed fast: the slow
# default hasher would take most of a window for a handful of logins.


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_failed_logins_are_slowed_for_the_account_and_the_address(settings, monkeypatch):
    settings.LOGIN_FAILURES_PER_MINUTE = 3
    settings.AXES_FAILURE_LIMIT = 100
    monkeypatch.setattr(accounts, "MINUTE", 2)  # a two-second "minute"
    make_user("alice")
    make_user("bob")
    for _ in range(3):
        assert _login(Client(), "alice", "wrong").status_code == 200
    slowed = _login(Client(), "alice", PASSWORD)
    assert slowed.status_code == 429
    assert re.search(
        r"Too many failed logins\. Try again in [12] seconds?\.", slowed.content.decode()
    )
    # The account is slowed from any address, and the address for any account.
    assert _login(Client(), "alice", PASSWORD, address="10.9.9.9").status_code == 429
    assert _login(Client(), "bob", PASSWORD).status_code == 429
    # Anyone else logs in.
    assert _login(Client(), "bob", PASSWORD, address="10.9.9.9").status_code == 302
    time.sleep(2.1)
    assert _login(Client(), "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_repeated_failures_refuse_logins_for_a_while_then_let_them_in(settings):
    settings.LOGIN_FAILURES_PER_MINUTE = 0
    settings.AXES_FAILURE_LIMIT = 3
    make_user("alice")
    make_user("bob")
    for _ in range(2):
        assert _login(Client(), "alice", "wrong").status_code == 200
    refused = _login(Client(), "alice", "wrong")
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many failed logins for this account or from your address." in page
    assert "Wait 15 minutes and try again, or reset your password." in page
    assert 'value="alice"' in page and "Forgot your password?" in page
    # Refused even with the right password, for the account from anywhere and for the address.
    assert _login(Client(), "alice", PASSWORD).status_code == 429
    assert _login(Client(), "alice", PASSWORD, address="10.9.9.9").status_code == 429
    assert _login(Client(), "bob", PASSWORD).status_code == 429
    assert _login(Client(), "bob", PASSWORD, address="10.9.9.9").status_code == 302
    # Attempts while refused do not make the wait longer: it ends 15 minutes after the third
    # failure, whoever keeps trying.
    locked_at = list(AccessAttempt.objects.values_list("attempt_time", flat=True))
    for _ in range(5):
        _login(Client(), "alice", "wrong", address="10.7.7.7")
    assert list(AccessAttempt.objects.values_list("attempt_time", flat=True)) == locked_at
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))
    assert _login(Client(), "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_the_admin_login_is_refused_too(settings):
    settings.AXES_FAILURE_LIMIT = 2
    make_user("staffer", is_staff=True)
    client = Client()
    for _ in range(2):
        client.post(
            "/admin/login/", {"username": "staffer", "password": "wrong"}, REMOTE_ADDR="10.0.0.5"
        )
    response = client.post(
        "/admin/login/", {"username": "staffer", "password": PASSWORD}, REMOTE_ADDR="10.0.0.5"
    )
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def _signup(username: str, address: str = "10.0.0.1"):
    data = {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD}
    return Client().post("/accounts/signup/", data, REMOTE_ADDR=address)


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_a_burst_of_signups_from_one_address_is_slowed(settings, monkeypatch):
    settings.SIGNUPS_PER_MINUTE = 2
    monkeypatch.setattr(accounts, "MINUTE", 2)
    assert _signup("one").status_code == 302
    assert _signup("two").status_code == 302
    slowed = _signup("three")
    assert slowed.status_code == 429
    page = slowed.content.decode()
    assert re.search(r"Too many sign-ups from your address\. Try again in [12] seconds?\.", page)
    assert 'value="three"' in page
    assert _signup("four", address="10.9.9.9").status_code == 302
    time.sleep(2.1)
    assert _signup("three").status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_signups_from_one_address_are_refused_for_the_rest_of_the_hour(settings):
    settings.SIGNUPS_PER_MINUTE = 0
    settings.SIGNUPS_PER_HOUR = 2
    assert _signup("one").status_code == 302
    assert _signup("one").status_code == 200  # the name is taken: a failed sign-up counts too
    refused = _signup("three")
    assert refused.status_code == 429
    assert "Try again in 60 minutes." in refused.content.decode()


def _reset(email: str, address: str = "10.0.0.1"):
    return Client().post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_reset_emails_are_limited_per_address_and_per_recipient(settings, user):
    settings.PASSWORD_RESETS_PER_HOUR = 2
    assert _reset(user.email).status_code == 302
    assert _reset(user.email.upper()).status_code == 302
    refused = _reset(user.email, address="10.9.9.9")  # the recipient's limit, from anywhere
    assert refused.status_code == 429
    assert "Too many reset emails. Try again in 60 minutes." in refused.content.decode()
    assert len(mail.outbox) == 2
    assert _reset("someone-else@example.com").status_code == 429  # the address's limit
    assert _reset("someone-else@example.com", address="10.9.9.9").status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_an_unreachable_cache_skips_the_limits_instead_of_failing_logins(settings, caplog):
    """A Redis cache nobody answers on: logins and sign-ups still work (django-axes's lockout,
    in the database, still counts), and the log says why the limits were skipped."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{live.free_port()}/0",
        }
    }
    make_user("alice")
    assert _login(Client(), "alice", "wrong").status_code == 200
    assert _login(Client(), "alice", PASSWORD).status_code == 302
    assert _signup("newcomer").status_code == 302
    assert "the cache is unavailable" in caplog.text


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_counts_hold_across_processes_that_share_redis():
    """Failures and sign-ups sent to two daphne processes in turn add up to one count."""
    make_user("alice")
    env = {
        "REDIS_URL": require_redis(),
        "LOGIN_FAILURES_PER_MINUTE": "2",
        "SIGNUPS_PER_MINUTE": "1",
    }
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    wrong = {"username": "alice", "password": "wrong"}
    newcomer = {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD}
    with (
        live.daphne(args=("--proxy-headers",), **env) as one,
        live.daphne(args=("--proxy-headers",), **env) as two,
    ):
        browsers = [Browser(one, address=address), Browser(two, address=address)]
        logins = [browsers[i % 2].submit("/accounts/login/", wrong) for i in range(3)]
        signups = [b.submit("/accounts/signup/", newcomer) for b in browsers]
    assert [status for status, _, _ in logins] == [200, 200, 429]
    assert "Too many failed logins. Try again in" in logins[2][2]
    assert [status for status, _, _ in signups] == [302, 429]
    assert "Too many sign-ups from your address" in signups[1][2]
