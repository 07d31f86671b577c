"""The HTTP transport against a real daphne: the same conversation as a WebSocket's, over
server-sent events and POSTs (docs/protocol.md, "The HTTP transport")."""

import asyncio
import json

import httpx
import pytest

from notes import documents
from notes.services import sharing, storage
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
