"""The live notes list socket (ws/notes/) through the real ASGI app."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from notes.services import editing, sharing
from tests.factories import make_note, make_user, share_note
from tests.yclient import ORIGIN, YClient, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_hub")]


class ListSocket:
    def __init__(self, app, cookie=None):
        headers = [(b"host", b"127.0.0.1"), (b"origin", ORIGIN)]
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        self.comm = WebsocketCommunicator(app, "/ws/notes/", headers=headers)
        self.events: list[dict] = []
        self.close_code = None

    async def pump(self, seconds: float) -> None:
        loop = __import__("asyncio").get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and self.close_code is None:
            if await self.comm.receive_nothing(timeout=0.02, interval=0.005):
                continue
            event = await self.comm.receive_output()
            if event["type"] == "websocket.close":
                self.close_code = event.get("code")
            elif event.get("text"):
                self.events.append(json.loads(event["text"]))

    async def until(self, predicate, seconds: float = 3.0) -> dict | None:
        loop = __import__("asyncio").get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            for event in self.events:
                if predicate(event):
                    return event
            await self.pump(0.05)
        return None


@pytest.fixture
async def people():
    owner = await sync_to_async(make_user)("owner")
    member = await sync_to_async(make_user)("member")
    note = await sync_to_async(make_note)(owner=owner, title="Plans", text="a\n")
    return owner, member, note


async def test_anonymous_list_socket_is_refused(asgi_app):
    socket = ListSocket(asgi_app)
    await socket.comm.connect()
    await socket.pump(0.5)
    assert socket.close_code == 4401


async def test_shared_renamed_unshared_and_deleted_notes_reach_the_list(asgi_app, people):
    owner, member, note = people
    socket = ListSocket(asgi_app, await session_cookie(member))
    assert (await socket.comm.connect())[0]
    await socket.pump(0.2)
    note_id = str(note.pk)

    await sync_to_async(share_note)(note, member, "viewer")
    shared = await socket.until(lambda e: e["kind"] == "note" and e["note"]["id"] == note_id)
    assert shared["note"]["title"] == "Plans" and shared["note"]["owner"] == "owner"

    await sync_to_async(editing.note_rename)(note=note, title="Plans v2", author=owner)
    assert await socket.until(lambda e: e["kind"] == "note" and e["note"]["title"] == "Plans v2")

    await sync_to_async(sharing.note_unshare)(note=note, user=member)
    assert await socket.until(lambda e: e == {"kind": "removed", "id": note_id})

    socket.events.clear()
    await sync_to_async(share_note)(note, member, "editor")
    assert await socket.until(lambda e: e["kind"] == "note")
    await sync_to_async(editing.note_delete)(note=note)
    assert await socket.until(lambda e: e == {"kind": "removed", "id": note_id})


async def test_the_list_shows_who_is_editing_and_when_they_leave(asgi_app, people):
    owner, member, note = people
    await sync_to_async(share_note)(note, member, "editor")
    # Someone is already editing when the list opens: it learns at once.
    editor = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    assert await editor.connect()
    await editor.pump(0.2)
    socket = ListSocket(asgi_app, await session_cookie(member))
    assert (await socket.comm.connect())[0]
    editing = await socket.until(lambda e: e["kind"] == "presence" and e["names"] == ["owner"])
    assert editing["id"] == str(note.pk)
    # Typing updates the preview the list shows (the searchable mirror, within about 1 s).
    await editor.append("fresh words")
    assert await socket.until(
        lambda e: e["kind"] == "note" and "fresh words" in e["note"]["preview"], seconds=4
    )
    await editor.close()
    assert await socket.until(lambda e: e["kind"] == "presence" and e["names"] == [])


async def test_list_events_never_reach_people_without_access(asgi_app, people):
    owner, member, note = people
    socket = ListSocket(asgi_app, await session_cookie(member))
    assert (await socket.comm.connect())[0]
    await sync_to_async(editing.note_rename)(note=note, title="Secret", author=owner)
    editor = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    assert await editor.connect()
    await editor.append("private")
    await socket.pump(2.0)
    assert socket.events == []
    await editor.close()
