"""/healthz, /metrics and structured logs, on real daphne processes."""

import json
import re
import urllib.error
import urllib.request

import pytest
from django.test import Client

from tests import live
from tests.factories import make_note, make_user
from tests.jsclients import client_spec, run_clients

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = re.compile(r'^[a-z_]+(\{le="[^"]+"\})? -?[0-9.e+]+$')


def _get(url: str, **headers) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _metrics(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) collab_notes_[a-z_]+ ", line), line
            continue
        assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def test_healthz_is_200_when_database_and_channel_layer_answer():
    with live.daphne() as server:
        status, body = _get(f"{server.http_url}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "problems": []}


def test_healthz_is_503_with_the_reason_when_the_channel_layer_is_down():
    dead = f"redis://127.0.0.1:{live.free_port()}/0"
    with live.daphne(REDIS_URL=dead) as server:
        status, body = _get(f"{server.http_url}/healthz")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "unavailable"
    assert len(answer["problems"]) == 1 and answer["problems"][0].startswith("channel layer:")


def test_healthz_is_503_when_the_database_is_unreachable():
    dead = f"postgres://postgres@127.0.0.1:{live.free_port()}/test"
    with live.daphne(DATABASE_URL=dead) as server:
        status, body = _get(f"{server.http_url}/healthz")
    assert status == 503
    assert json.loads(body)["problems"][0].startswith("database:")


@pytest.mark.node
def test_metrics_count_sockets_messages_and_persist_latency_and_logs_are_json_without_content():
    owner = make_user("owner")
    note = make_note(owner=owner, title="Metrics", text="secret-base-text\n")
    with live.daphne(LOG_FORMAT="json", NOTES_METRICS_TOKEN="s3cret") as server:
        assert _get(f"{server.http_url}/metrics")[0] == 401
        before = _metrics(_get(f"{server.http_url}/metrics", Authorization="Bearer s3cret")[1])
        assert before["collab_notes_open_sockets"] == 0
        result = run_clients(
            {
                "clients": [
                    client_spec(server, note.pk, _cookie(owner), name) for name in ("m0", "m1")
                ],
                "edits": 10,
                "interval_ms": 20,
            }
        )
        assert result["converged"]
        after = _metrics(_get(f"{server.http_url}/metrics", Authorization="Bearer s3cret")[1])
        log = server.log()
    assert after["collab_notes_messages_received_total"] >= 20
    assert after["collab_notes_messages_sent_total"] >= 20
    assert after["collab_notes_notes_loaded_total"] == 1
    assert after["collab_notes_persist_seconds_count"] >= 1
    assert after["collab_notes_edit_commit_seconds_count"] >= 20  # every stored edit
    assert (
        after['collab_notes_persist_seconds_bucket{le="+Inf"}']
        == (after["collab_notes_persist_seconds_count"])
    )
    buckets = [v for k, v in after.items() if k.startswith("collab_notes_persist_seconds_bucket")]
    assert buckets == sorted(buckets)  # cumulative
    # Structured logs: our lines are JSON, realtime events name the note, no content anywhere.
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    loaded = [e for e in events if e["event"] == "note loaded"]
    assert loaded and all(e["note"] == str(note.pk) for e in loaded)
    assert all({"ts", "level", "logger", "event"} <= set(e) for e in events)
    assert "secret-base-text" not in log and "<m0:" not in log and "<m1:" not in log
