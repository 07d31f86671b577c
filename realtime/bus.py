"""
The hub's channel on the channel layer: the groups it is in, and the messages it receives.

One channel per process, whatever the number of notes and peers: the hub joins each loaded
note's group once, each user's group while that user has a notes list open here, the group of
all hubs, and a group of its own (for messages meant for this process only, such as an HTTP
transport's request forwarded from another process). Messages are dispatched by type to the
handlers the hub registers (transports may add theirs). Sending is notes.broadcast's, the one
place that sends to groups.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer

from notes import broadcast

logger = logging.getLogger("realtime.bus")

Handler = Callable[[dict], Awaitable[None]]


class Bus:
    """This process's channel, its group memberships and its receive loop."""

    def __init__(self, hub_id: str) -> None:
        self.hub_id = hub_id
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.groups: set[str] = set()
        self.handlers: dict[str, Handler] = {}
        self.rejoined: Callable[[], None] = lambda: None  # after the layer came back

    async def open(self) -> None:
        """Called when the hub starts: a channel of our own, in the group of all hubs."""
        self.channel = await self.layer.new_channel(prefix=broadcast.HUB_CHANNEL_PREFIX)
        await self.join(broadcast.HUBS_GROUP)
        await self.join(broadcast.hub_group(self.hub_id))

    def on(self, message_type: str, handler: Handler) -> None:
        """Have `handler` receive this type's messages (transports add their own types)."""
        self.handlers[message_type] = handler

    async def join(self, group: str) -> None:
        self.groups.add(group)
        await self.layer.group_add(group, self.channel)

    async def leave(self, group: str) -> None:
        self.groups.discard(group)
        try:
            await self.layer.group_discard(group, self.channel)
        except Exception:
            logger.debug("group_discard failed", extra={"group": group})

    async def run(self) -> None:
        """Receive and dispatch messages, for as long as the hub runs."""
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await self._rejoin()
                continue
            handler = self.handlers.get(message.get("type"))
            if handler is None:
                logger.warning("unknown hub message %r", message.get("type"))
                continue
            try:
                await handler(message)
            except Exception:
                logger.exception("hub message failed", extra={"type": message.get("type")})

    async def _rejoin(self) -> None:
        """After a failed receive, wait for the channel layer and join our groups again.

        A Redis restart forgets every group membership: without this, no other process's
        fan-out would reach us again, and edits would cross only at the periodic heal.
        group_add is idempotent. What was lost meanwhile is caught up at the next heal tick.
        """
        while True:
            await asyncio.sleep(1)
            try:
                for group in list(self.groups):
                    await self.layer.group_add(group, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("channel layer still unavailable: %s", exc)
                continue
            self.rejoined()
            logger.info("rejoined channel-layer groups", extra={"groups": len(self.groups)})
            return
