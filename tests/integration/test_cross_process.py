"""Two real daphne processes on a real Redis: edits, presence, restarts and lost fan-out."""

import re
import signal

import pytest
from django.test import Client

from notes import documents
from notes.services import sharing, storage
from realtime import protocol
from tests import live
from tests.factories import make_note, make_user
from tests.jsclients import assert_every_token_once, client_spec, run_clients
from tests.services import require_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.node]


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _stored_text(note) -> str:
    return documents.doc_text(
        documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    )


def _spread(servers, note, cookie, names):
    return [
        client_spec(servers[i % len(servers)], note.pk, cookie, name)
        for i, name in enumerate(names)
    ]


def test_two_processes_converge_share_presence_and_survive_restarts():
    redis = require_redis()
    owner = make_user("owner")
    note = make_note(owner=owner, title="Cross", text="# shared\n")
    cookie = _cookie(owner)
    names = [f"p{i}" for i in range(6)]
    edits = 25
    with live.daphne(REDIS_URL=redis) as one, live.daphne(REDIS_URL=redis) as two:
        servers = [one, two]
        result = run_clients(
            {
                "clients": _spread(servers, note, cookie, names),
                "edits": edits,
                "interval_ms": 20,
                "churn": [2, 3],
                "late_joiner": client_spec(two, note.pk, cookie, "late"),
            }
        )
        final = result["texts"][0]
        assert result["converged"], result
        assert_every_token_once(final, names, edits)
        assert final.startswith("# shared\n") or "# shared\n" in final
        # Presence crosses processes: clients on one saw clients on the other.
        for seen in result["seen"]:
            assert set(names) <= set(seen)
        assert result["late_joiner"]["text"] == final
        assert _stored_text(note) == final

        # Restart both processes: the note is unchanged, nothing is duplicated.
        for server in servers:
            live.restart(server, signal.SIGTERM)
        after = run_clients(
            {
                "clients": [client_spec(one, note.pk, cookie, "reader")],
                "late_joiner": client_spec(two, note.pk, cookie, "late"),
            }
        )
        assert after["texts"][0] == final
        assert after["late_joiner"]["text"] == final
        assert _stored_text(note) == final


def test_dropped_fanout_heals_within_the_bound():
    """Half of all fan-out messages are dropped on purpose; every replica still converges,
    within the heal interval (1 s here) plus a round trip."""
    redis = require_redis()
    owner = make_user("owner")
    note = make_note(owner=owner, title="Lossy", text="")
    cookie = _cookie(owner)
    names = [f"d{i}" for i in range(4)]
    edits = 30
    env = {"REDIS_URL": redis, "NOTES_FAULT_DROP_FANOUT": "0.5", "NOTES_HEAL_INTERVAL": "1"}
    with live.daphne(**env) as one, live.daphne(**env) as two:
        result = run_clients(
            {
                "clients": _spread([one, two], note, cookie, names),
                "edits": edits,
                "interval_ms": 20,
                # Bound: heal interval (1 s) + catch-up query + delivery; 3 s is generous.
                "settle_ms": 3000,
            }
        )
        assert result["converged"], result
        assert_every_token_once(result["texts"][0], names, edits)
        assert _stored_text(note) == result["texts"][0]
        logs = one.log() + two.log()
    # Prove the fault really happened and was healed, not avoided.
    assert re.search(r"healed missed updates", logs), logs[-2000:]


def test_idle_sockets_stay_open_well_past_the_redis_socket_timeout():
    """redis-py 8 would time out idle reads after about 5 s and kill sockets with 1011
    (channels_redis issue 422); the layer is configured without a socket timeout."""
    redis = require_redis()
    owner = make_user("owner")
    note = make_note(owner=owner, text="")
    cookie = _cookie(owner)
    with live.daphne(REDIS_URL=redis) as one, live.daphne(REDIS_URL=redis) as two:
        result = run_clients(
            {
                "clients": _spread([one, two], note, cookie, ["idle0", "idle1"]),
                "idle_ms": 12000,
                "edits": 3,
                "interval_ms": 50,
            }
        )
    assert result["closes"] == [[], []]
    assert result["converged"]
    assert_every_token_once(result["texts"][0], ["idle0", "idle1"], 3)


@pytest.fixture
def redis_layer(settings):
    """Make this test process broadcast through the same Redis as its daphne processes."""
    from channels.layers import channel_layers

    from collab.config import channel_layers_config

    url = require_redis()
    settings.CHANNEL_LAYERS = channel_layers_config(url)
    channel_layers.backends.clear()
    yield url
    channel_layers.backends.clear()


def test_revocation_reaches_sockets_on_every_process_within_a_second(redis_layer):
    import asyncio
    import time

    import websockets

    from tests.factories import share_note
    from tests.wsclient import connect

    owner = make_user("owner")
    member = make_user("member")
    note = make_note(owner=owner, text="x")
    share_note(note, member, "editor")
    cookie = _cookie(member)

    async def watch(server) -> tuple[int, float]:
        async with connect(server, note.pk, cookie) as ws:
            await asyncio.sleep(0.5)  # joined and synced
            started = time.monotonic()
            await asyncio.to_thread(sharing.note_unshare, note=note, user=member)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=5)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code, time.monotonic() - started

    async def both(one, two):
        return await asyncio.gather(watch(one), watch_later(two))

    async def watch_later(server):
        # The second socket connects, then waits for the same revocation.
        async with connect(server, note.pk, cookie) as ws:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=6)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code, 0.0

    with live.daphne(REDIS_URL=redis_layer) as one, live.daphne(REDIS_URL=redis_layer) as two:
        (code_one, elapsed), (code_two, _) = asyncio.run(both(one, two))
    assert code_one == 4403 and code_two == 4403
    assert elapsed < 1.0, f"revocation took {elapsed:.2f} s"


def test_presence_carries_the_true_user_across_processes(redis_layer):
    """A member claims to be the owner on one process; a watcher on the other process sees
    the member's own id and name."""
    import asyncio
    import json

    from tests.factories import share_note
    from tests.wsclient import awareness_clients, connect

    owner = make_user("owner")
    member = make_user("member")
    note = make_note(owner=owner, text="x")
    share_note(note, member, "editor")
    claim = json.dumps({"user": {"id": owner.pk, "name": "owner"}})
    frame = protocol.encode_awareness(
        protocol.encode_awareness_payload([protocol.AwarenessEntry(77, 1, claim)])
    )

    owner_cookie, member_cookie = _cookie(owner), _cookie(member)

    async def scene(one, two) -> dict:
        async with connect(two, note.pk, owner_cookie) as watcher:
            async with connect(one, note.pk, member_cookie) as poser:
                await poser.send(frame)
                present: dict[int, str] = {}
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                while 77 not in present and loop.time() < deadline:
                    try:
                        awareness_clients(await asyncio.wait_for(watcher.recv(), 0.5), present)
                    except TimeoutError:
                        continue
                return present

    with live.daphne(REDIS_URL=redis_layer) as one, live.daphne(REDIS_URL=redis_layer) as two:
        present = asyncio.run(scene(one, two))
    assert json.loads(present[77]) == {"user": {"id": member.pk, "name": "member"}}
