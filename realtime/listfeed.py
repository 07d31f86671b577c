"""
The live notes list: JSON events to each user's open notes list, as their notes appear,
change and go, and as people start and stop editing them.

Services announce notes after commit (notes.broadcast.user_notes); this process announces who
is editing each of its loaded notes, debounced on joins and leaves and renewed every
PRESENCE_RENEW seconds, and answers a list that connects and asks every process at once.
"""

import asyncio
import logging
import time
from typing import Protocol

from notes import broadcast
from realtime.bus import Bus
from realtime.room import Room

logger = logging.getLogger("realtime.listfeed")

PRESENCE_RENEW = 30.0  # lists forget a process's "who is editing" after 75 s without renewal
PRESENCE_DEBOUNCE = 0.25  # joins and leaves within this reach notes lists as one announcement


class ListPeer(Protocol):
    """What the feed needs of a notes list: whose it is, and a way to send it an event."""

    peer_id: int
    user_id: int

    async def send_event(self, event: dict) -> None: ...


class NotesListFeed:
    """Keeps this process's open notes lists up to date."""

    def __init__(self, *, hub_id: str, bus: Bus, rooms: dict) -> None:
        self.hub_id = hub_id
        self.bus = bus
        self.rooms = rooms  # the hub's loaded notes, by id
        self.listeners: dict[int, dict[int, ListPeer]] = {}  # user id -> open notes lists

    async def join(self, peer: ListPeer) -> None:
        """Called when a user's notes list connects: subscribe once per user per process."""
        mine = self.listeners.setdefault(peer.user_id, {})
        if not mine:
            await self.bus.join(broadcast.user_group(peer.user_id))
        mine[peer.peer_id] = peer
        # Presence is not stored: ask every process who is editing this user's notes.
        await broadcast.send_presence_query(user_id=peer.user_id)

    async def leave(self, peer: ListPeer) -> None:
        mine = self.listeners.get(peer.user_id)
        if mine is None or mine.pop(peer.peer_id, None) is None:
            return
        if not mine:
            del self.listeners[peer.user_id]
            await self.bus.leave(broadcast.user_group(peer.user_id))

    async def user_notes(self, message: dict) -> None:
        """An event for one user's notes list: pass it to their open lists here."""
        for peer in list(self.listeners.get(message["user"], {}).values()):
            try:
                await peer.send_event(message["event"])
            except Exception:
                logger.debug("list send failed", extra={"peer": peer.peer_id})

    async def presence_query(self, message: dict) -> None:
        """A list connected somewhere: say who is editing the notes its user can see."""
        user_id = message["user"]
        for room in list(self.rooms.values()):
            if room.peers and user_id in room.audience:
                await broadcast.send_user_notes(user_ids=[user_id], event=self._event(room))

    def _event(self, room: Room) -> dict:
        names = sorted({state.peer.user_name for state in room.peers.values()})
        return {"kind": "presence", "id": str(room.note_id), "hub": self.hub_id, "names": names}

    def changed(self, room: Room) -> None:
        """Someone joined or left: announce who is editing shortly, once for a whole crowd
        (each announcement lists everyone, so one per join would cost n * n)."""
        if room.presence_timer is None:
            room.presence_timer = asyncio.get_running_loop().call_later(
                PRESENCE_DEBOUNCE, lambda: asyncio.create_task(self._announce(room))
            )

    async def tick(self, room: Room, now: float) -> None:
        """Called about once a second per loaded note: renew the announcement when due."""
        if room.peers and now >= room.next_presence:
            await self._announce(room)

    async def _announce(self, room: Room) -> None:
        """Tell the note's audience who is editing it here (lists merge across processes)."""
        if room.presence_timer is not None:
            room.presence_timer.cancel()
            room.presence_timer = None
        room.next_presence = time.monotonic() + PRESENCE_RENEW
        try:
            await broadcast.send_user_notes(user_ids=room.audience, event=self._event(room))
        except Exception:
            logger.exception("presence announcement failed", extra={"note": str(room.note_id)})
