"""
Talk about a note, live: each chat event (a message posted, edited, deleted) and each
comment-thread event (opened, replied, resolved, reopened, deleted) that the services announce
to the note's group reaches this process's editors of the note as one `chat` or `comments`
message (docs/protocol.md). Only clients that asked for our own messages (?acks=1) get them: a
stock Yjs client would not know them.
"""

import json

from realtime import protocol
from realtime.room import Room, Sender


class ChatFeed:
    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def note_chat(self, room: Room, message: dict) -> None:
        await self._to_editors(room, protocol.encode_chat(json.dumps(message["event"])))

    async def note_comments(self, room: Room, message: dict) -> None:
        await self._to_editors(room, protocol.encode_comments(json.dumps(message["event"])))

    async def _to_editors(self, room: Room, frame: bytes) -> None:
        for state in list(room.peers.values()):
            if state.peer.wants_acks:
                await self.sender.send(state, frame)
