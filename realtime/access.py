"""
Access that changes while peers are connected: a user's role on a note changed, a user logged
out, a note was deleted. The peers concerned follow at once, in every process.

The services that make these changes broadcast them after commit (notes.broadcast); the rules
for who may do what are notes.permissions'. Here they are only carried out.
"""

from collections.abc import Awaitable, Callable

from django.contrib.auth import get_user_model

from notes import selectors
from notes.permissions import Role
from realtime import protocol
from realtime.peer import CLOSE_ACCESS_REMOVED, CLOSE_LOGGED_OUT, CLOSE_NOTE_DELETED
from realtime.room import PeerState, Room, Sender
from realtime.threads import DatabaseThreads

ClosePeer = Callable[[Room, PeerState, int, str], Awaitable[None]]
CloseRoom = Callable[[Room, int, str], Awaitable[None]]


class AccessEvents:
    """Applies access changes to this process's peers."""

    def __init__(
        self,
        *,
        rooms: dict,
        threads: DatabaseThreads,
        sender: Sender,
        close_peer: ClosePeer,
        close_room: CloseRoom,
    ) -> None:
        self.rooms = rooms  # the hub's loaded notes, by id
        self.threads = threads
        self.sender = sender
        self.close_peer = close_peer
        self.close_room = close_room

    async def note_access(self, room: Room, message: dict) -> None:
        """Someone's rights on a note changed: their peers here follow at once."""
        room.audience = await self.threads.run(selectors.note_audience, note_id=room.note_id)
        for user_id in set(message["users"]):
            states = [s for s in room.peers.values() if s.peer.user_id == user_id]
            if not states:
                continue
            role = await self.threads.run(_role_of_user, note_id=room.note_id, user_id=user_id)
            for state in states:
                if role is None or role == Role.NONE:
                    await self.close_peer(
                        room, state, CLOSE_ACCESS_REMOVED, "Your access to this note was removed"
                    )
                elif role != state.peer.role:
                    state.peer.role = role
                    if state.peer.wants_acks:
                        await self.sender.send(state, protocol.encode_access(role))

    async def session_ended(self, message: dict) -> None:
        """A user logged out: close every peer that came with that session."""
        for room in list(self.rooms.values()):
            for state in list(room.peers.values()):
                if state.peer.session_key == message["session"]:
                    await self.close_peer(room, state, CLOSE_LOGGED_OUT, "You logged out")

    async def user_sessions_ended(self, message: dict) -> None:
        """A user's password changed (or was reset): close their peers from every other login."""
        for room in list(self.rooms.values()):
            for state in list(room.peers.values()):
                peer = state.peer
                if peer.user_id == message["user"] and peer.session_key != message["keep"]:
                    await self.close_peer(
                        room, state, CLOSE_LOGGED_OUT, "Your password changed: log in again"
                    )

    async def note_deleted(self, room: Room, message: dict) -> None:
        await self.close_room(room, CLOSE_NOTE_DELETED, "This note was deleted")


def _role_of_user(*, note_id, user_id: int) -> Role | None:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return Role.NONE
    return selectors.note_role_of(note_id=note_id, user=user)
