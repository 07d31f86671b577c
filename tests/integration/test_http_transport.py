"""The HTTP transport against a real daphne: the same conversation as a WebSocket's, over
server-sent events and POSTs (docs/protocol.md, "The HTTP transport")."""

import asyncio
import json
import uuid

import httpx
import pytest

from notes import documents
from notes.services import storage
from realtime import protocol
from tests import live
from tests.factories import make_note, make_user, share_note
from tests.liveclients import HttpYClient, WsYClient
from tests.yclient import login_session_key

pytestmark = pytest.mark.django_db(transaction=True)


def _stored_text(note) -> str:
    return documents.doc_text(
        documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    )


def _names(replica) -> set[str]:
    return {json.loads(state)["user"]["name"] for state in replica.awareness.values()}


def test_a_websocket_client_and_an_http_client_converge_with_acks_and_presence():
    owner = make_user("owner", first_name="Olive")
    editor = make_user("editor", first_name="Ed")
    note = make_note(owner=owner, title="Both", text="start\n")
    share_note(note, editor, role="editor")
    owner_cookie, editor_cookie = login_session_key(owner), login_session_key(editor)

    async def scenario(server):
        ws = WsYClient(server, note.pk, cookie=owner_cookie)
        http = HttpYClient(server, note.pk, cookie=editor_cookie)
        assert await ws.connect()
        assert await http.connect()
        assert await http.until(lambda: http.text == "start\n")
        assert http.role == 2  # the access message, as on a socket
        await http.append("from http\n")
        await ws.append("from ws\n")
        # The HTTP client claims to be the owner; everyone sees its real name.
        await http.set_awareness(4242, 1, json.dumps({"user": {"name": "Olive", "color": "#f00"}}))
        await ws.set_awareness(77, 1, json.dumps({"user": {"name": "x", "color": "#0f0"}}))
        assert await ws.until(lambda: "from http" in ws.text and 4242 in ws.awareness)
        assert await http.until(lambda: "from ws" in http.text and 77 in http.awareness)
        assert json.loads(ws.awareness[4242])["user"]["name"] == "Ed"
        assert await http.until(lambda: http.saved == http.sent)
        assert ws.text == http.text
        # Leaving ends the session at once: its presence goes with it.
        await http.close()
        assert await ws.until(lambda: 4242 not in ws.awareness)
        await ws.close()
        return ws.text

    with live.daphne() as server:
        final = asyncio.run(scenario(server))
    assert sorted(final.splitlines()) == ["from http", "from ws", "start"]
    assert _stored_text(note) == final


def test_a_viewers_http_writes_change_nothing():
    owner = make_user("owner")
    viewer = make_user("viewer")
    note = make_note(owner=owner, title="Read only", text="fixed\n")
    share_note(note, viewer, role="viewer")
    cookie = login_session_key(viewer)

    async def scenario(server):
        http = HttpYClient(server, note.pk, cookie=cookie)
        assert await http.connect()
        assert await http.until(lambda: http.text == "fixed\n" and http.role == 1)
        answer = await http.post(
            [
                protocol.encode_sync_update(
                    documents.edit_update(
                        http.doc, lambda doc: documents.text_append(doc, "vandal\n")
                    )
                )
            ]
        )
        assert answer.status_code == 204  # dropped, as on a socket, not an error
        await http.pump(0.5)
        await http.close()

    with live.daphne() as server:
        asyncio.run(scenario(server))
    assert _stored_text(note) == "fixed\n"


def test_foreign_origins_missing_csrf_tokens_and_other_logins_are_refused():
    owner = make_user("owner")
    stranger = make_user("stranger")
    note = make_note(owner=owner, title="Mine", text="")
    share_note(note, stranger, role="editor")
    owner_cookie, stranger_cookie = login_session_key(owner), login_session_key(stranger)

    async def scenario(server):
        base = f"/http/notes/{note.pk}"
        async with httpx.AsyncClient(
            base_url=server.http_url, cookies={"sessionid": owner_cookie}
        ) as raw:
            # A stream opened from another site's page.
            foreign = await raw.get(f"{base}/stream", headers={"Origin": "http://evil.example"})
            assert foreign.status_code == 403
            cross = await raw.get(f"{base}/stream", headers={"Sec-Fetch-Site": "cross-site"})
            assert cross.status_code == 403
        mine = HttpYClient(server, note.pk, cookie=owner_cookie)
        assert await mine.connect()
        update = protocol.encode_sync_update(
            documents.edit_update(mine.doc, lambda doc: documents.text_append(doc, "x"))
        )
        # No CSRF token, then a token that does not match the cookie.
        for token in ("", "b" * 32):
            answer = await mine.post([update], seq=999, headers={"X-CSRFToken": token})
            assert answer.status_code == 403
            assert "CSRF" in answer.json()["error"]
        # The right token, posted from a foreign page.
        answer = await mine.post([update], seq=999, headers={"Origin": "http://evil.example"})
        assert answer.status_code == 403
        # Another user, with a valid login and CSRF token of their own, on my session.
        thief = HttpYClient(server, note.pk, cookie=stranger_cookie)
        thief.session = mine.session
        answer = await thief.post([update])
        assert answer.status_code == 403
        assert "another login" in answer.json()["error"]
        # A made-up session, and a malformed one.
        thief.session = mine.session[:16] + "0" * 32
        assert (await thief.post([update])).status_code == 404
        thief.session = "not-a-session"
        assert (await thief.post([update])).status_code == 400
        # None of it reached the note; my own POST does.
        await mine.pump(0.3)
        assert (await mine.post([update])).status_code == 204
        await mine.close()
        await thief.close(end=False)

    with live.daphne() as server:
        asyncio.run(scenario(server))
    assert _stored_text(note) == "x"


def test_refusals_arrive_as_a_close_event_with_the_websocket_close_codes():
    owner = make_user("owner")
    outsider = make_user("outsider")
    note = make_note(owner=owner, title="Private", text="")
    cookies = {"owner": login_session_key(owner), "outsider": login_session_key(outsider)}

    async def first_close(server, note_id, cookie):
        client = HttpYClient(server, note_id, cookie=cookie)
        first = await client.open_stream()
        await client.close(end=False)
        assert first["event"] == "close"
        return json.loads(first["data"])["code"]

    async def scenario(server):
        assert await first_close(server, note.pk, None) == 4401
        assert await first_close(server, note.pk, cookies["outsider"]) == 4403
        assert await first_close(server, uuid.uuid4(), cookies["owner"]) == 4404
        # One connection per user (NOTES_MAX_SOCKETS_PER_USER=1): a WebSocket counts too.
        ws = WsYClient(server, note.pk, cookie=cookies["owner"])
        await ws.connect()
        assert await ws.until(lambda: ws.role is not None)
        assert await first_close(server, note.pk, cookies["owner"]) == 4429
        await ws.close()

    with live.daphne(NOTES_MAX_SOCKETS_PER_USER="1") as server:
        asyncio.run(scenario(server))


def test_losing_access_or_logging_out_closes_the_http_session_live():
    owner = make_user("owner")
    guest = make_user("guest")
    note = make_note(owner=owner, title="Shared", text="")
    share_note(note, guest, role="editor")
    guest_cookie, owner_cookie = login_session_key(guest), login_session_key(owner)

    async def as_owner(server, path, data):
        """A form POST from the owner's browser, to the same daphne process."""
        async with httpx.AsyncClient(
            base_url=server.http_url, cookies={"sessionid": owner_cookie, "csrftoken": "c" * 32}
        ) as browser:
            answer = await browser.post(
                path,
                data={"csrfmiddlewaretoken": "c" * 32, **data},
                headers={"Origin": server.http_url},
            )
            assert answer.status_code in (200, 302), answer.text[:300]

    async def scenario(server):
        guest_http = HttpYClient(server, note.pk, cookie=guest_cookie)
        owner_http = HttpYClient(server, note.pk, cookie=owner_cookie)
        assert await guest_http.connect() and await owner_http.connect()
        assert await guest_http.until(lambda: guest_http.role == 2)
        await as_owner(server, f"/notes/{note.pk}/share/", {"action": "remove", "user": guest.pk})
        assert await guest_http.until(lambda: guest_http.close_code is not None)
        assert guest_http.close_code == 4403
        # Logging out closes that login's HTTP sessions with 4401.
        await as_owner(server, "/accounts/logout/", {})
        assert await owner_http.until(lambda: owner_http.close_code is not None)
        assert owner_http.close_code == 4401
        # A closed session takes no more POSTs.
        assert (await owner_http.post([])).status_code in (404, 410)
        await guest_http.close(end=False)
        await owner_http.close(end=False)

    with live.daphne() as server:
        asyncio.run(scenario(server))


def test_a_retried_post_is_applied_once():
    owner = make_user("owner")
    note = make_note(owner=owner, title="Once", text="")
    cookie = login_session_key(owner)

    async def scenario(server):
        http = HttpYClient(server, note.pk, cookie=cookie)
        assert await http.connect()
        update = protocol.encode_sync_update(
            documents.edit_update(http.doc, lambda doc: documents.text_append(doc, "once\n"))
        )
        assert (await http.post([update])).status_code == 204
        seq = http.seq
        # The answer was lost; the client sends the same batch again, then goes on.
        assert (await http.post([update], seq=seq)).status_code == 204
        skipped = await http.post([], seq=seq + 2)
        assert skipped.status_code == 400
        assert (await http.post([], seq=seq + 1)).status_code == 204
        await http.close()

    with live.daphne() as server:
        asyncio.run(scenario(server))
    assert _stored_text(note) == "once\n"
