"""Limits on open sockets: note size (4413), message rate (4429), sockets per user (4429)."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from notes.services import storage
from realtime import protocol
from tests.factories import make_note, make_user, share_note
from tests.yclient import YClient, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_hub")]


@pytest.fixture
async def setup():
    owner = await sync_to_async(make_user)("owner")
    other = await sync_to_async(make_user)("other")
    note = await sync_to_async(make_note)(owner=owner, title="Limits", text="base\n")
    await sync_to_async(share_note)(note, other, "editor")
    return note, owner, other


async def _connect(asgi_app, note, user) -> YClient:
    client = YClient(asgi_app, note.pk, cookie=await session_cookie(user))
    assert await client.connect()
    assert await client.until(lambda: client.text.startswith("base\n"))
    return client


_current_text = sync_to_async(lambda note: storage.note_current_text(note_id=note.pk))


async def test_an_edit_past_the_note_size_limit_is_refused_and_closes_4413(
    asgi_app, setup, settings
):
    settings.NOTES_MAX_NOTE_BYTES = 1000
    note, owner, other = setup
    writer = await _connect(asgi_app, note, owner)
    watcher = await _connect(asgi_app, note, other)
    await writer.append("a" * 600)
    assert await watcher.until(lambda: watcher.text == "base\n" + "a" * 600)
    await writer.append("é" * 200)  # 400 more bytes: 1,005 in all
    assert await writer.until(lambda: writer.close_code is not None)
    assert writer.close_code == 4413
    await watcher.pump(0.3)
    # Nobody else received it, and it was not stored; the other socket carries on.
    assert watcher.text == "base\n" + "a" * 600 and watcher.close_code is None
    assert await _current_text(note) == "base\n" + "a" * 600
    saved = watcher.saved
    await watcher.append("!")
    assert await watcher.until(lambda: watcher.saved > saved)
    assert await _current_text(note) == "base\n" + "a" * 600 + "!"
    await watcher.close()


async def test_a_flooder_is_closed_4429_while_others_carry_on(asgi_app, setup, settings):
    settings.NOTES_RATE_LIMIT = 50
    settings.NOTES_RATE_BURST = 100
    note, owner, other = setup
    flooder = await _connect(asgi_app, note, owner)
    honest = await _connect(asgi_app, note, other)
    sent = 0
    frame = protocol.encode_sync_step1(flooder.doc.get_state())
    while flooder.close_code is None and sent < 2000:
        await flooder.send(frame)
        sent += 1
        if sent % 20 == 0:
            await flooder.pump(0.01)
    assert flooder.close_code == 4429
    # Closed once the burst ran out: at a flood of any speed, well inside 2 s of its rate.
    assert sent <= settings.NOTES_RATE_BURST + 2 * settings.NOTES_RATE_LIMIT
    for k in range(10):  # 20 messages a second: under the rate, never refused
        await honest.append(f"<{k}>")
        await asyncio.sleep(0.05)
    assert await honest.until(lambda: honest.saved >= 10)
    assert honest.close_code is None
    assert (await _current_text(note)).endswith("<9>")
    await honest.close()


async def test_sockets_per_user_are_capped_with_4429(asgi_app, setup, settings):
    settings.NOTES_MAX_SOCKETS_PER_USER = 3
    note, owner, other = setup
    tabs = [await _connect(asgi_app, note, owner) for _ in range(3)]
    extra = YClient(asgi_app, note.pk, cookie=await session_cookie(owner))
    await extra.connect()
    assert await extra.until(lambda: extra.close_code is not None)
    assert extra.close_code == 4429
    # Another user is not affected, and closing a tab frees a place.
    someone_else = await _connect(asgi_app, note, other)
    await tabs[0].close()
    await asyncio.sleep(0.05)
    again = await _connect(asgi_app, note, owner)
    assert again.close_code is None
    for client in (*tabs[1:], someone_else, again):
        await client.close()
