"""
What the room engine knows of a client: who it is (user, role), how to send it a frame, and how
to end the conversation with a close code and reason. Nothing about the transport.

A transport (realtime.transports.websocket today) provides a `Link` for each client and hands
the engine a `Peer` built on it; the engine never sees a socket, a request or a scope. Close
codes are listed here, all in one place (docs/protocol.md documents each).
"""

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from notes.permissions import Role

# Close codes in 4400-4499 are final for y-websocket clients: they stop reconnecting.
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_LOGGED_OUT = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_ACCESS_REMOVED = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOTE_DELETED = 4404
CLOSE_NOTE_TOO_LARGE = 4413
CLOSE_TOO_MANY = 4429
# RFC 6455 codes: the message was too big (final for our editor); the server lost what it
# held in memory, so reconnect and resync.
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011

_peer_ids = itertools.count(1)


class Link(Protocol):
    """A transport's end of one client's conversation."""

    async def send_frame(self, frame: bytes) -> None:
        """Deliver one protocol message to the client."""

    async def close_with(self, code: int, reason: str) -> None:
        """End the conversation; the client sees the code and reason."""


@dataclass(eq=False)
class Peer:
    """One client on one note, as the room engine sees it."""

    note_id: uuid.UUID
    user_id: int
    user_name: str
    session_key: str | None  # the login it came with: logging out closes it
    role: Role  # lowered or raised by the engine when the user's access changes
    wants_acks: bool  # asked for our `saved` and `access` messages (docs/protocol.md)
    link: Link
    peer_id: int = field(default_factory=lambda: next(_peer_ids))
    joined: bool = False  # greeted by the engine, and not gone since (set by realtime.hub)

    @property
    def can_write(self) -> bool:
        return self.role >= Role.EDITOR

    async def send_frame(self, frame: bytes) -> None:
        await self.link.send_frame(frame)


def new_peer_id() -> int:
    """A process-unique id, for transports' own bookkeeping (the notes list, for one)."""
    return next(_peer_ids)
