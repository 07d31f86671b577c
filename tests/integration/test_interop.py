"""The stock npm clients (yjs + y-websocket) against a real daphne, unchanged."""

import time

import pytest
from django.test import Client

from notes.models import Note
from tests import live
from tests.factories import make_note, make_user
from tests.jsclients import assert_every_token_once, client_spec, run_clients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.node]


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _wait_for_mirror(note, text: str, seconds: float = 5) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stored = Note.objects.get(pk=note.pk).content_text
        if stored == text:
            break
        time.sleep(0.1)
    return stored


def test_official_clients_edit_converge_and_see_each_other():
    owner = make_user("owner")
    note = make_note(owner=owner, title="Interop", text="start\n")
    names = ["c0", "c1", "c2", "c3"]
    edits = 20
    with live.daphne() as server:
        specs = [client_spec(server, note.pk, _cookie(owner), name) for name in names]
        result = run_clients(
            {
                "clients": specs,
                "edits": edits,
                "interval_ms": 25,
                "churn": [1],
                "late_joiner": client_spec(server, note.pk, _cookie(owner), "late"),
            }
        )
        final = result["texts"][0]
        assert result["synced"] and result["converged"], result
        assert "start\n" in final
        assert_every_token_once(final, names, edits)
        # A late joiner has the whole note in its very first sync.
        assert result["late_joiner"]["text"] == final
        # Presence: every client saw every other one.
        for seen in result["seen"]:
            assert set(names) <= set(seen)
        # No client was ever closed by the server.
        assert result["closes"] == [[], [], [], []]
        assert _wait_for_mirror(note, final) == final


def test_official_client_is_refused_with_final_codes():
    owner = make_user("owner")
    stranger = make_user("stranger")
    note = make_note(owner=owner)
    with live.daphne() as server:
        result = run_clients(
            {
                "clients": [
                    {**client_spec(server, note.pk, None, "anon")},
                    {**client_spec(server, note.pk, _cookie(stranger), "stranger")},
                ],
                "settle_ms": 1500,
            }
        )
    assert result["synced"] is False
    assert result["closes"][0][:1] == [4401]
    assert result["closes"][1][:1] == [4403]
    # 44xx is final: the stock client does not retry.
    assert len(result["closes"][0]) == 1 and len(result["closes"][1]) == 1
