"""Restoring a version while two official Yjs clients type into the note, on a real daphne."""

import http.cookiejar
import re
import threading
import time
import urllib.parse
import urllib.request

import pytest
from django.test import Client

from notes.models import NoteUpdate
from notes.services import editing, revisions, storage
from tests import live
from tests.factories import make_note, make_user, share_note
from tests.jsclients import TOKEN, client_spec, run_clients, token_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.node]


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _post_form(server, path: str, session: str) -> int:
    """POST a form on the live server as a browser would: session, CSRF cookie and token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page_url = f"{server.http_url}{path.rsplit('/history/', 1)[0]}/history/"
    headers = {"Cookie": f"sessionid={session}"}
    with opener.open(urllib.request.Request(page_url, headers=headers), timeout=10) as page:
        html = page.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    csrf_cookie = next(c.value for c in jar if c.name == "csrftoken")
    request = urllib.request.Request(
        f"{server.http_url}{path}",
        data=urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
        headers={
            "Cookie": f"sessionid={session}; csrftoken={csrf_cookie}",
            "Origin": server.http_url,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    no_redirect = urllib.request.build_opener(_NoRedirect)
    try:
        with no_redirect.open(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_restore_while_two_clients_type_loses_none_of_their_concurrent_edits():
    owner, colleague = make_user("owner"), make_user("colleague")
    note = make_note(owner=owner, title="Live", text="alpha\nbeta\n")
    share_note(note, colleague, "editor")
    good = revisions.revision_save(note=note, name="good", user=owner)
    editing.note_text_replace(note=note, text="alpha\nbeta\ngamma\ndelta\n", author=owner)
    rows_before = NoteUpdate.objects.filter(note=note).count()
    names, edits = ["c0", "c1"], 60

    with live.daphne() as server:
        specs = [
            client_spec(server, note.pk, _cookie(owner), "c0"),
            client_spec(server, note.pk, _cookie(colleague), "c1"),
        ]
        outcome: dict = {}
        typing = threading.Thread(
            target=lambda: outcome.update(
                run_clients({"clients": specs, "edits": edits, "interval_ms": 40})
            )
        )
        typing.start()
        # Restore once both are well into typing.
        deadline = time.monotonic() + 30
        while NoteUpdate.objects.filter(note=note).count() < rows_before + 20:
            assert time.monotonic() < deadline, "the clients never started typing"
            time.sleep(0.05)
        status = _post_form(server, f"/notes/{note.pk}/history/{good.pk}/restore/", _cookie(owner))
        typing.join(timeout=120)

    assert status == 302
    assert outcome["synced"] and outcome["converged"], outcome
    final = outcome["texts"][0]
    assert outcome["texts"][1] == final
    before = note.revisions.get(kind="before_restore").text
    seen_by_restore = set(token_counts(before))
    assert 0 < len(seen_by_restore) < len(names) * edits, "the restore was not mid-typing"
    counts = token_counts(final)
    everything = {(name, str(k)) for name in names for k in range(edits)}
    concurrent = everything - seen_by_restore
    missing = concurrent - set(counts)
    print(
        f"tokens typed {len(everything)}, seen by the restore {len(seen_by_restore)}, "
        f"concurrent {len(concurrent)}, present after {len(counts)}, missing {len(missing)}"
    )
    # Every character typed concurrently with the restore survives, exactly once.
    assert not missing, sorted(missing)[:5]
    assert all(n == 1 for n in counts.values())
    # What the restore saw and undid is gone, and the old version is back around the tokens.
    assert not seen_by_restore & set(counts)
    assert TOKEN.sub("", final) == "alpha\nbeta\n"
    assert storage.note_current_text(note_id=note.pk) == final
    restored = note.revisions.get(kind="restore")
    assert TOKEN.sub("", restored.text) == "alpha\nbeta\n"
    assert list(restored.contributors.all()) == [owner]
