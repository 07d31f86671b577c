"""
One peer's conversation with the room engine, whatever transport carries it.

A transport hands every message it receives to `PeerSession.receive`, which applies the limits
every message passes (rate, size), decodes it with realtime.protocol, gives it to the hub, and
ends the conversation with the close code that says what went wrong (docs/protocol.md). The
WebSocket consumer is one transport over this; another needs nothing else from the engine.
"""

import logging

from django.conf import settings

from notes.services.editing import NoteTooLarge
from realtime import protocol
from realtime.hub import Hub
from realtime.limits import TokenBucket
from realtime.peer import (
    CLOSE_NOTE_TOO_LARGE,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY,
    Peer,
)

logger = logging.getLogger("realtime.session")


class PeerSession:
    """Takes a joined peer's messages to the engine, within the limits."""

    def __init__(self, *, hub: Hub, peer: Peer) -> None:
        self.hub = hub
        self.peer = peer
        self.bucket = TokenBucket(settings.NOTES_RATE_LIMIT, settings.NOTES_RATE_BURST)

    async def join(self) -> None:
        """Called once the transport has accepted the peer: load the note and greet it."""
        await self.hub.join(self.peer)

    async def receive(self, frame: bytes | None) -> None:
        """Called for each message from the client; None for one that is not binary."""
        if not self.peer.joined:
            return
        hub = self.hub
        hub.stats["frames_in"] += 1
        if not self.bucket.take():
            hub.stats["closed_by_limit"] += 1
            logger.warning(
                "message rate exceeded, closing",
                extra={"note": str(self.peer.note_id), "peer": self.peer.peer_id},
            )
            return await self.close(CLOSE_TOO_MANY, "Too many messages")
        if frame is None:
            return await self.close(CLOSE_PROTOCOL_ERROR, "Text frames are not supported")
        if len(frame) > settings.NOTES_MAX_MESSAGE_BYTES:
            hub.stats["closed_by_limit"] += 1
            return await self.close(
                CLOSE_TOO_BIG,
                f"Message of {len(frame)} bytes exceeds the limit of "
                f"{settings.NOTES_MAX_MESSAGE_BYTES} bytes",
            )
        try:
            await hub.receive(self.peer, protocol.decode_message(frame))
        except NoteTooLarge as exc:
            hub.stats["closed_by_limit"] += 1
            logger.warning(
                "edit over the note size limit, closing",
                extra={"note": str(self.peer.note_id), "peer": self.peer.peer_id},
            )
            await self.close(CLOSE_NOTE_TOO_LARGE, str(exc))
        except protocol.ProtocolError as exc:
            logger.warning(
                "protocol error, closing",
                extra={
                    "note": str(self.peer.note_id),
                    "peer": self.peer.peer_id,
                    "error": str(exc),
                },
            )
            await self.close(CLOSE_PROTOCOL_ERROR, f"Protocol error: {exc}")

    async def close(self, code: int, reason: str) -> None:
        """End the conversation from the server's side."""
        await self.leave()
        await self.peer.link.close_with(code, reason)

    async def leave(self) -> None:
        """Called when the transport has lost the client (also safe after a close)."""
        if self.peer.joined:
            await self.hub.leave(self.peer)
