"""The in-memory channel layer still expires what Channels' own expires, only less often."""

import asyncio

from collab.layers import InMemoryChannelLayer


async def test_an_unread_channel_still_expires_and_leaves_its_groups():
    layer = InMemoryChannelLayer(expiry=0.05)
    layer.CLEAN_INTERVAL = 0.1
    await layer.group_add("note", "reader.a")
    await layer.group_add("note", "reader.b")
    await layer.group_send("note", {"type": "first"})  # reader.a never reads it
    assert await layer.receive("reader.b") == {"type": "first"}
    await asyncio.sleep(0.2)  # past the message's expiry and the cleaning interval
    await layer.group_send("note", {"type": "second"})
    assert set(layer.groups["note"]) == {"reader.b"}
    assert await layer.receive("reader.b") == {"type": "second"}


async def test_messages_still_arrive_between_cleanings():
    layer = InMemoryChannelLayer()
    await layer.group_add("note", "reader.a")
    for i in range(100):
        await layer.group_send("note", {"type": "edit", "n": i})
    assert [(await layer.receive("reader.a"))["n"] for _ in range(100)] == list(range(100))
