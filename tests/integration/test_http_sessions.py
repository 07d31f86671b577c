"""HTTP sessions on a real daphne: resume after a dropped stream, keepalives, expiry, the
bound on what waits for a client, the limits every message passes, the notes list, and POSTs
that reach another process (docs/protocol.md, "The HTTP transport")."""

import asyncio
import json

import httpx
import pytest

from notes import documents
from notes.services import storage
from realtime import protocol
from tests import live
from tests.factories import make_note, make_user
from tests.liveclients import HttpYClient, Stream, WsYClient
from tests.services import require_redis
from tests.yclient import login_session_key

pytestmark = pytest.mark.django_db(transaction=True)


def _stored_text(note) -> str:
    return documents.doc_text(
        documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    )


@pytest.fixture
def pair():
    owner = make_user("owner")
    note = make_note(owner=owner, title="Pair", text="")
    return note, login_session_key(owner)


async def _present_over_http(server, note, cookie, client_id):
    """An HTTP client whose presence a WebSocket client in the same note sees."""
    http = HttpYClient(server, note.pk, cookie=cookie)
    ws = WsYClient(server, note.pk, cookie=cookie)
    assert await http.connect() and await ws.connect()
    await http.set_awareness(client_id, 1, json.dumps({"user": {"name": "me"}}))
    assert await ws.until(lambda: client_id in ws.awareness)
    return http, ws


def _ids(client) -> list[int]:
    return [int(frame_id.rpartition(":")[2]) for frame_id in client.event_ids]


def test_a_dropped_stream_resumes_where_it_stopped_and_loses_nothing(pair):
    note, cookie = pair

    async def scenario(server):
        http = HttpYClient(server, note.pk, cookie=cookie)
        ws = WsYClient(server, note.pk, cookie=cookie)
        assert await http.connect() and await ws.connect()
        await ws.append("before\n")
        assert await http.until(lambda: "before" in http.text)
        await http.pump(0.3)
        seen = list(http.event_ids)
        await http.drop_stream()
        for word in ("one", "two", "three"):
            await ws.append(f"{word}\n")
        await ws.pump(0.5)
        first = await http.open_stream(last_event_id=http.last_id)
        assert first["event"] == "session"
        assert json.loads(first["data"])["session"] == http.session  # the same session
        assert await http.until(lambda: "three" in http.text)
        await http.pump(0.3)
        numbers = _ids(http)
        # Every message exactly once, in order, across the drop.
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert http.event_ids[: len(seen)] == seen
        assert http.text == ws.text
        await http.close()
        await ws.close()

    with live.daphne() as server:
        asyncio.run(scenario(server))


def test_keepalives_flow_and_a_forgotten_session_expires_and_leaves_presence(pair):
    note, cookie = pair

    async def scenario(server):
        http, ws = await _present_over_http(server, note, cookie, 9001)
        assert await http.until(lambda: "keepalive" in http.comments, timeout=5)
        last = http.last_id
        await http.drop_stream()
        # NOTES_HTTP_SESSION_TTL is 1 s here: the session ends and its presence goes.
        assert await ws.until(lambda: 9001 not in ws.awareness, timeout=6)
        first = await http.open_stream(last_event_id=last)
        assert first["event"] == "close"
        assert json.loads(first["data"])["code"] == 4000
        await http.close(end=False)
        await ws.close()

    with live.daphne(NOTES_HTTP_KEEPALIVE="0.5", NOTES_HTTP_SESSION_TTL="1") as server:
        asyncio.run(scenario(server))


def test_a_client_that_stops_reading_is_dropped_and_must_resync(pair):
    note, cookie = pair

    async def scenario(server):
        http, ws = await _present_over_http(server, note, cookie, 9002)
        last = http.last_id
        await http.drop_stream()  # and never acknowledges again
        for i in range(60):
            await ws.append(f"line {i:02d} " + "x" * 80 + "\n")
        # Past NOTES_HTTP_QUEUE_BYTES the session is dropped: presence goes at once...
        assert await ws.until(lambda: 9002 not in ws.awareness, timeout=5)
        # ...and it cannot resume: it must start again and resync in full.
        first = await http.open_stream(last_event_id=last)
        assert json.loads(first["data"])["code"] == 4000
        again = HttpYClient(server, note.pk, cookie=cookie)
        assert await again.connect()
        assert await again.until(lambda: again.text == ws.text and "line 59" in again.text)
        await again.close()
        await http.close(end=False)
        await ws.close()

    # Far below the session TTL's reach: only the bound can end the session in time.
    with live.daphne(NOTES_HTTP_QUEUE_BYTES="4000", NOTES_RATE_LIMIT="0") as server:
        asyncio.run(scenario(server))


def test_every_message_passes_the_websocket_limits(pair):
    note, cookie = pair

    async def opened(server):
        client = HttpYClient(server, note.pk, cookie=cookie)
        assert await client.connect()
        await client.pump(0.2)
        return client

    async def scenario(server):
        big = await opened(server)
        answer = await big.post([protocol.encode_sync_update(b"\x00" * 2000)])
        assert answer.status_code == 413
        assert answer.json()["code"] == 1009
        assert await big.until(lambda: big.close_code is not None)
        assert big.close_code == 1009

        garbage = await opened(server)
        answer = await garbage.post([b"\x00\x07"])  # sync, unknown sub-type
        assert answer.status_code == 410
        assert answer.json()["code"] == 4400
        for client in (big, garbage):
            await client.close(end=False)

        # An edit that would make the note too large (NOTES_MAX_NOTE_BYTES is 200 here).
        large = await opened(server)
        answer = await large.post(
            [
                protocol.encode_sync_update(
                    documents.edit_update(
                        large.doc, lambda doc: documents.text_append(doc, "y" * 300)
                    )
                )
            ]
        )
        assert answer.status_code == 410
        assert answer.json()["code"] == 4413
        await large.close(end=False)

        fast = await opened(server)
        burst = [protocol.encode_query_awareness()] * 10
        answer = await fast.post(burst)
        assert answer.status_code == 410
        assert answer.json()["code"] == 4429
        await fast.close(end=False)

    with live.daphne(
        NOTES_MAX_MESSAGE_BYTES="1000",
        NOTES_MAX_NOTE_BYTES="200",
        NOTES_RATE_LIMIT="1",
        NOTES_RATE_BURST="5",
    ) as server:
        asyncio.run(scenario(server))
    assert _stored_text(note) == ""


def test_a_malformed_body_closes_the_session_with_4400(pair):
    note, cookie = pair

    async def scenario(server):
        http = HttpYClient(server, note.pk, cookie=cookie)
        assert await http.connect()
        await http.pump(0.3)
        async with http._post_lock:
            http.seq += 1
            answer = await http.http.post(
                f"{http.base}/send",
                content=b"\x05\x00",  # says 5 bytes follow; 1 does
                headers={
                    "X-CSRFToken": http.csrf,
                    "X-Notes-Session": http.session,
                    "X-Notes-Seq": str(http.seq),
                    "Origin": server.http_url,
                },
            )
        assert answer.status_code == 400
        assert answer.json()["code"] == 4400
        assert await http.until(lambda: http.close_code is not None)
        assert http.close_code == 4400
        await http.close(end=False)

    with live.daphne() as server:
        asyncio.run(scenario(server))


def test_the_notes_list_streams_over_http():
    owner = make_user("owner")
    guest = make_user("guest")
    note = make_note(owner=owner, title="For you", text="")
    guest_cookie, owner_cookie = login_session_key(guest), login_session_key(owner)

    async def share(server):
        """The owner shares the note from their browser (the same daphne process)."""
        async with httpx.AsyncClient(
            base_url=server.http_url, cookies={"sessionid": owner_cookie, "csrftoken": "c" * 32}
        ) as browser:
            answer = await browser.post(
                f"/notes/{note.pk}/share/",
                data={
                    "csrfmiddlewaretoken": "c" * 32,
                    "action": "add",
                    "who": "guest",
                    "role": "editor",
                },
                headers={"Origin": server.http_url},
            )
            assert answer.status_code in (200, 302)

    async def scenario(server):
        async with httpx.AsyncClient(
            base_url=server.http_url, cookies={"sessionid": guest_cookie}, timeout=10
        ) as browser:
            async with browser.stream("GET", "/http/notes/list") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = Stream(response)
                await share(server)
                async with asyncio.timeout(10):
                    while True:
                        event = await stream.next()
                        if event and "data" in event:
                            data = json.loads(event["data"])
                            if data.get("note", {}).get("title") == "For you":
                                break
        async with httpx.AsyncClient(base_url=server.http_url) as anonymous:
            async with anonymous.stream("GET", "/http/notes/list") as response:
                body = (await response.aread()).decode()
        assert "event: close" in body and "4401" in body

    with live.daphne() as server:
        asyncio.run(scenario(server))


def test_posts_through_another_process_reach_the_holder():
    redis = require_redis()
    owner = make_user("owner")
    note = make_note(owner=owner, title="Far", text="")
    cookie = login_session_key(owner)

    async def scenario(one, two):
        # The stream on one process, every POST through the other.
        http = HttpYClient(one, note.pk, cookie=cookie, post_to=two)
        ws = WsYClient(two, note.pk, cookie=cookie)
        assert await http.connect() and await ws.connect()
        for i in range(10):
            await http.append(f"far {i}\n")
        await ws.append("near\n")
        assert await ws.until(lambda: "far 9" in ws.text)
        assert await http.until(lambda: "near" in http.text and http.saved == http.sent)
        assert all(answer.status_code == 204 for answer in http.answers)
        # An unknown session of the other process: the holder's answer comes back.
        stray = HttpYClient(one, note.pk, cookie=cookie, post_to=two)
        stray.session = http.session[:16] + "0" * 32
        assert (await stray.post([])).status_code == 404
        await stray.close(end=False)
        await http.close()
        await ws.close()
        return ws.text

    with live.daphne(REDIS_URL=redis) as one, live.daphne(REDIS_URL=redis) as two:
        final = asyncio.run(scenario(one, two))
    assert sorted(final.splitlines()) == sorted([f"far {i}" for i in range(10)] + ["near"])
    assert _stored_text(note) == final
