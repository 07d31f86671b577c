"""
The note's chat, live: each chat event (posted, edited, deleted) that notes.services.chat
announces to the note's group reaches this process's editors of the note as one `chat`
message (docs/protocol.md). Only clients that asked for our own messages (?acks=1) get it:
a stock Yjs client would not know it.
"""

import json

from realtime import protocol
from realtime.room import Room, Sender


class ChatFeed:
    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def note_chat(self, room: Room, message: dict) -> None:
        frame = protocol.encode_chat(json.dumps(message["event"]))
        for state in list(room.peers.values()):
            if state.peer.wants_acks:
                await self.sender.send(state, frame)
