"""The documented production site over HTTPS, seen from outside nginx: redirects, secure cookies,
HSTS, the /metrics allow range, unbuffered event streams, and check --deploy on the env file."""

import asyncio
import re
import secrets
import subprocess
import sys
import types
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from tests.factories import PASSWORD, make_note, make_user
from tests.liveclients import HttpYClient, WsYClient

from . import stack as stack_module

pytestmark = [pytest.mark.deploy]


def _cookies(response) -> dict[str, str]:
    """Each Set-Cookie of a response, by name, as sent (attributes included)."""
    return {
        header.split("=", 1)[0]: header for header in response.headers.get_all("Set-Cookie") or []
    }


def _log_in(stack, username: str) -> dict[str, str]:
    """Log in through nginx as a browser's form would; returns the cookies it got."""
    page = stack.request("GET", "/accounts/login/")
    assert page.status == 200
    csrf = SimpleCookie(page.headers["Set-Cookie"])["csrftoken"].value
    page.read()
    answer = stack.request(
        "POST",
        "/accounts/login/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Origin": stack.origin,
            "Referer": f"{stack.origin}/accounts/login/",
        },
        body=urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}
        ).encode(),
    )
    assert answer.status == 302, answer.read()[:500]
    return {"csrftoken": csrf, **_cookies(answer)}


def test_plain_http_redirects_to_https(stack):
    answer = stack.request("GET", "/notes/?q=plans", https=False)
    assert answer.status == 301
    # The production file sends everyone to the default HTTPS port of the same host.
    assert answer.headers["Location"] == f"https://{stack_module.HOST}/notes/?q=plans"


def test_https_pages_send_hsts_and_secure_cookies(stack):
    make_user("alice")
    page = stack.request("GET", "/accounts/login/")
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    csrf = _cookies(page)["csrftoken"]
    assert re.search(r";\s*Secure\b", csrf, re.IGNORECASE), csrf
    page.read()

    cookies = _log_in(stack, "alice")
    session = cookies["sessionid"]
    assert re.search(r";\s*Secure\b", session, re.IGNORECASE), session
    assert re.search(r";\s*HttpOnly\b", session, re.IGNORECASE), session
    # Django saw the request as HTTPS (X-Forwarded-Proto), so it does not redirect it again.
    session_id = SimpleCookie(session)["sessionid"].value
    notes = stack.request("GET", "/", headers={"Cookie": f"sessionid={session_id}"})
    assert notes.status == 200


def test_metrics_are_refused_outside_the_allowed_range(stack):
    refused = stack.request("GET", "/metrics", source="127.0.0.1")
    assert refused.status == 403
    assert b"collab_notes" not in refused.read()
    allowed = stack.request("GET", "/metrics", source=stack_module.MONITOR)
    assert allowed.status == 200
    assert b"collab_notes_open_sockets" in allowed.read()


def test_an_event_stream_through_nginx_is_not_buffered(stack):
    owner = make_user("alice")
    note = make_note(owner=owner, title="Streams", text="hello\n")
    session = SimpleCookie(_log_in(stack, "alice")["sessionid"])["sessionid"].value
    connection = stack.request(
        "GET",
        f"/http/notes/{note.pk}/stream",
        headers={"Cookie": f"sessionid={session}", "Accept": "text/event-stream"},
    )
    assert connection.status == 200
    assert connection.headers["Content-Type"].startswith("text/event-stream")
    # The stream stays open; its first event must come through at once, not when a buffer
    # fills or the stream ends (a buffering proxy would hold it until the 15 s keepalive).
    connection.fp.raw._sock.settimeout(10)
    lines = []
    try:
        while "event: session" not in lines:
            lines.append(connection.fp.readline().decode().strip())
    except TimeoutError:
        pytest.fail(f"no session event through nginx within 10 s; got {lines}")
    finally:
        connection.close()


def test_an_http_transport_client_edits_with_a_wss_client_through_nginx(stack):
    """Where WebSockets are blocked the editor talks over the HTTP transport: through nginx,
    with TLS and its POSTs spread over both daphne processes, it edits with a wss:// client."""
    owner = make_user("carol")
    note = make_note(owner=owner, title="Fallback", text="")
    session = SimpleCookie(_log_in(stack, "carol")["sessionid"])["sessionid"].value
    site = types.SimpleNamespace(
        http_url=stack.origin, ws_url=stack.origin.replace("https://", "wss://")
    )

    async def scenario():
        http = HttpYClient(site, note.pk, cookie=session, tls=stack.tls())
        ws = WsYClient(site, note.pk, cookie=session, tls=stack.tls())
        assert await http.connect() and await ws.connect()
        for i in range(8):
            await http.append(f"over http {i}\n")
        await ws.append("over wss\n")
        assert await ws.until(lambda: "over http 7" in ws.text, timeout=15)
        assert await http.until(lambda: "over wss" in http.text and http.saved == http.sent)
        assert all(answer.status_code == 204 for answer in http.answers)
        await http.close()
        await ws.close()
        return http.text, ws.text

    http_text, ws_text = asyncio.run(scenario())
    assert http_text == ws_text
    # nginx's least_conn sent POSTs to the process not holding the stream: they were forwarded.
    logs = [daphne.log_path.read_text(errors="replace") for daphne in stack.daphnes]
    send = f"POST /http/notes/{note.pk}/send"
    holder = next(i for i, log in enumerate(logs) if f"/http/notes/{note.pk}/stream" in log)
    assert send in logs[1 - holder]
    assert sorted(ws_text.splitlines()) == sorted(
        [f"over http {i}" for i in range(8)] + ["over wss"]
    )


def test_check_deploy_is_clean_with_the_env_template():
    """The template's variables as written, with only the secret filled in."""
    env = stack_module.production_env(DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=stack_module.ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_env_template_without_a_secret_refuses_to_start():
    env = stack_module.production_env()
    assert env["DJANGO_SECRET_KEY"] == ""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        cwd=stack_module.ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
