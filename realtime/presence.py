"""
Presence (Yjs awareness: who is here, their cursors), relayed without persistence.

Each peer's awareness is coalesced to the latest state per client and passed on at most every
AWARENESS_INTERVAL, to the note's other local peers and to the other processes with the note
loaded. The server keeps one awareness clock per client id and restamps what it relays (see
`_restamp`), and it remembers the current states, to greet joiners with and to answer another
process that loads the note.

Who a state says it is comes from the server, never the client: every state a peer sends is
relayed with `user` set to that peer's real id and display name (`bind_identity`), so nobody,
a viewer included, can appear on the presence bar or a cursor label as someone else. Other
processes relay what their own peers' states became, already bound.
"""

import asyncio
import json
import logging
import time
from collections import defaultdict

from django.conf import settings

from notes import broadcast
from realtime import protocol
from realtime.peer import Peer
from realtime.room import AwarenessClient, PeerState, Room, Sender

logger = logging.getLogger("realtime.presence")

AWARENESS_INTERVAL = settings.NOTES_AWARENESS_INTERVAL
AWARENESS_TIMEOUT = 30.0  # y-protocols clients renew every 15 s and drop peers after 30 s
# What a client may choose of how it is shown: its colours, as CSS colour strings.
USER_STYLE_KEYS = ("color", "colorLight")
USER_STYLE_MAX_LENGTH = 64


class Presence:
    """Relays awareness between a note's peers, here and in other processes."""

    def __init__(self, *, hub_id: str, sender: Sender, fan_out) -> None:
        self.hub_id = hub_id
        self.sender = sender
        self.fan_out = fan_out  # realtime.fanout.FanOut: whether other processes can hear

    def current(self, room: Room) -> bytes | None:
        """Everyone present, as one awareness frame (for a joiner), or None if nobody is."""
        if not room.awareness:
            return None
        entries = [c.entry for c in room.awareness.values()]
        return protocol.encode_awareness(protocol.encode_awareness_payload(entries))

    async def query(self, room: Room, peer: Peer) -> None:
        """A client asked who is present."""
        entries = [c.entry for c in room.awareness.values()]
        payload = protocol.encode_awareness_payload(entries)
        await peer.send_frame(protocol.encode_awareness(payload))

    def awareness(self, room: Room, state: PeerState, payload: bytes) -> None:
        """A client's presence changed: remember it, and pass it on at most every interval."""
        now = time.monotonic()
        for entry in protocol.decode_awareness_payload(payload):
            if self._is_echo(room, state, entry):
                continue
            out = self._restamp(room, bind_identity(state.peer, entry))
            if out.gone:
                room.awareness.pop(out.client_id, None)
                state.awareness_ids.discard(out.client_id)
            else:
                room.awareness[out.client_id] = AwarenessClient(out, now, state.peer.peer_id)
                state.awareness_ids.add(out.client_id)
            room.awareness_pending[out.client_id] = (out, state.peer.peer_id)
        if room.awareness_pending:
            self._schedule_flush(room)

    def left(self, room: Room, state: PeerState) -> None:
        """A peer left: its clients are announced gone, to everyone at once."""
        for client_id in state.awareness_ids:
            if room.awareness.pop(client_id, None) is not None:
                gone = self._restamp(room, protocol.AwarenessEntry(client_id, 0, "null"))
                room.awareness_pending[client_id] = (gone, None)
        if room.awareness_pending:
            self._schedule_flush(room)

    @staticmethod
    def _is_echo(room: Room, state: PeerState, entry: protocol.AwarenessEntry) -> bool:
        """Whether a peer is only relaying someone else's presence back to us.

        y-websocket clients re-send every awareness change they receive. Taken as the sender's
        own, a relayed entry would be restamped and fanned out again, and two processes would
        bounce it between them for ever. So a peer speaks only for client ids that are its
        own or that nobody holds (a client reconnecting here after its connection closed), and
        for another process's client only with a clock newer than any we have seen (the client
        moved here from a process that died).
        """
        current = room.awareness.get(entry.client_id)
        if current is None:
            # "Gone" for a client nobody holds changes nothing; anything else is a (re)join.
            return entry.gone and entry.client_id not in state.awareness_ids
        if current.peer_id == state.peer.peer_id:
            return False
        if current.peer_id is not None:
            return True  # Another local peer owns this client id.
        return entry.clock <= room.awareness_clock.get(entry.client_id, -1)

    @staticmethod
    def _restamp(room: Room, entry: protocol.AwarenessEntry) -> protocol.AwarenessEntry:
        """Give the entry a clock newer than any this note has seen for the client.

        A reconnecting client re-sends its state with a clock its peers have already seen (we
        announced it gone at clock + 1), and y-protocols peers ignore such states until the next
        renewal. As the only relay between a note's clients, the server keeps one monotonic
        clock per client id, so a returning client shows up at once.
        """
        clock = max(entry.clock, room.awareness_clock.get(entry.client_id, -1) + 1)
        room.awareness_clock[entry.client_id] = clock
        if clock == entry.clock:
            return entry
        return protocol.AwarenessEntry(entry.client_id, clock, entry.state)

    def _schedule_flush(self, room: Room) -> None:
        if room.awareness_flush is None:
            wait = max(0.0, room.awareness_next - time.monotonic())
            room.awareness_flush = asyncio.get_running_loop().call_later(
                wait, lambda: asyncio.create_task(self._flush(room))
            )

    async def _flush(self, room: Room) -> None:
        """Pass on the note's presence changes: one frame per peer, whoever changed.

        Per peer and per change, a note with n peers would cost n * n sends when n people
        join at once. Each peer gets every change but its own (its client would take a
        restamped clock for itself and announce it again, for ever).
        """
        room.awareness_flush = None
        pending, room.awareness_pending = room.awareness_pending, {}
        if not pending:
            return
        started = time.monotonic()
        # Changes that arrive while this flush awaits the channel layer wait for the next one.
        room.awareness_next = started + AWARENESS_INTERVAL
        payload = protocol.encode_awareness_payload([entry for entry, _ in pending.values()])
        if not room.closed:
            everything = protocol.encode_awareness(payload)
            own: dict[int, set[int]] = defaultdict(set)
            for client_id, (_, source) in pending.items():
                if source is not None:
                    own[source].add(client_id)
            for peer_id, state in list(room.peers.items()):
                mine = own.get(peer_id)
                if mine is None:
                    await self.sender.send(state, everything)
                    continue
                others = [entry for cid, (entry, _) in pending.items() if cid not in mine]
                if others:
                    frame = protocol.encode_awareness(protocol.encode_awareness_payload(others))
                    await self.sender.send(state, frame)
        try:
            if self.fan_out.elsewhere:
                await broadcast.send_note_awareness(
                    note_id=room.note_id, origin=self.hub_id, payload=payload
                )
        except Exception:
            logger.exception("awareness fan-out failed", extra={"note": str(room.note_id)})
        # A flush costs a send per peer: in a very large note, leave the loop at least as
        # long again for edits before the next one.
        spent = time.monotonic() - started
        room.awareness_next = time.monotonic() + max(AWARENESS_INTERVAL, spent)

    async def expire(self, room: Room, now: float) -> None:
        """Forget other processes' clients that stopped renewing (their process may be gone)."""
        stale = [
            self._restamp(room, protocol.AwarenessEntry(cid, 0, "null"))
            for cid, c in list(room.awareness.items())
            if c.peer_id is None and now - c.seen_at > AWARENESS_TIMEOUT
        ]
        if stale:
            for entry in stale:
                room.awareness.pop(entry.client_id, None)
            payload = protocol.encode_awareness_payload(stale)
            await self.sender.send_all(room, protocol.encode_awareness(payload))

    async def loaded(self, room: Room) -> None:
        """This process just loaded the note: presence is not stored, so ask the processes
        already editing it."""
        if self.fan_out.elsewhere:
            await broadcast.send_note_presence_query(note_id=room.note_id, origin=self.hub_id)

    # --- from other processes ---------------------------------------------------------------

    async def note_awareness(self, room: Room, message: dict) -> None:
        if message["origin"] == self.hub_id:
            return
        now = time.monotonic()
        entries = protocol.decode_awareness_payload(message["payload"])
        for entry in entries:
            known = room.awareness_clock.get(entry.client_id, -1)
            room.awareness_clock[entry.client_id] = max(known, entry.clock)
            current = room.awareness.get(entry.client_id)
            if current is not None and current.peer_id is not None:
                continue  # The client is on one of our peers now; that peer speaks for it.
            if entry.gone:
                room.awareness.pop(entry.client_id, None)
            elif entry.clock >= known:
                room.awareness[entry.client_id] = AwarenessClient(entry, now, None)
        await self.sender.send_all(room, protocol.encode_awareness(message["payload"]))

    async def note_presence_query(self, room: Room, message: dict) -> None:
        """Another process loaded a note we have: tell it who is here."""
        if message["origin"] == self.hub_id or not room.loaded.done():
            return
        local = [c.entry for c in room.awareness.values() if c.peer_id is not None]
        if local:
            await broadcast.send_note_awareness(
                note_id=room.note_id,
                origin=self.hub_id,
                payload=protocol.encode_awareness_payload(local),
            )


def bind_identity(peer: Peer, entry: protocol.AwarenessEntry) -> protocol.AwarenessEntry:
    """The entry with its state's `user` saying who `peer` really is: the user's id and display
    name, and the colours the client chose (if they are short strings). y-codemirror.next
    labels cursors with `user.name`, and the editor's presence bar groups people by `user.id`.

    A state that is not a JSON object carries no identity and passes as it is; "gone" (null)
    is one of those."""
    parsed = entry.parsed if entry.parsed is not None else json.loads(entry.state)
    if not isinstance(parsed, dict):
        return entry
    claimed = parsed.get("user")
    user = {"id": peer.user_id, "name": peer.user_name}
    if isinstance(claimed, dict):
        for key in USER_STYLE_KEYS:
            value = claimed.get(key)
            if isinstance(value, str) and len(value) <= USER_STYLE_MAX_LENGTH:
                user[key] = value
    if claimed == user:
        return entry
    state = json.dumps({**parsed, "user": user}, ensure_ascii=False, separators=(",", ":"))
    return protocol.AwarenessEntry(entry.client_id, entry.clock, state)
