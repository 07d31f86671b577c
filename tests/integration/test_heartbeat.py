"""Dead peers are found by daphne's ping/pong, and their presence goes with them."""

import asyncio

import pytest
from django.test import Client

from realtime import protocol
from tests import live
from tests.factories import make_note, make_user
from tests.wsclient import SilentSocket, awareness_clients, connect

pytestmark = pytest.mark.django_db(transaction=True)


def _setup():
    owner = make_user("owner")
    note = make_note(owner=owner, text="")
    client = Client()
    client.force_login(owner)
    return note, client.cookies["sessionid"].value


async def _watch_ghost(server, note_id, cookie) -> tuple[float | None, float | None]:
    """Return when the silent peer's presence appeared and when it was removed."""
    async with connect(server, note_id, cookie) as watcher:
        silent = SilentSocket(server, note_id, cookie)
        entry = protocol.AwarenessEntry(4242, 1, '{"user":{"name":"ghost"}}')
        silent.send_binary(protocol.encode_awareness(protocol.encode_awareness_payload([entry])))
        present: dict[int, str] = {}
        appeared_at = gone_at = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline and gone_at is None:
            try:
                frame = await asyncio.wait_for(watcher.recv(), timeout=0.5)
            except TimeoutError:
                continue
            awareness_clients(frame, present)
            if appeared_at is None and 4242 in present:
                appeared_at = loop.time()
            elif appeared_at is not None and 4242 not in present:
                gone_at = loop.time()
        silent.close()
    return appeared_at, gone_at


def test_a_peer_that_stops_answering_pings_is_dropped_with_its_presence():
    note, cookie = _setup()
    with live.daphne(args=("--ping-interval", "1", "--ping-timeout", "2")) as server:
        appeared_at, gone_at = asyncio.run(_watch_ghost(server, note.pk, cookie))
    assert appeared_at is not None, "the silent peer's presence never arrived"
    assert gone_at is not None, "the dead peer's presence was never removed"
    # ping after 1 s idle, 2 s to answer: gone a few seconds later, not after 30.
    assert gone_at - appeared_at < 8
