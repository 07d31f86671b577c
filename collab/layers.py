"""The in-memory channel layer (one process, no REDIS_URL), without its cost per message.

Channels' InMemoryChannelLayer looks through every channel's queue and every group membership
for expired entries on each group send and each receive. Each open note is a group, so with a
few hundred open notes that scan took a fifth of the process's CPU (the 200-notes benchmark,
docs/benchmarks.md). Here it runs at most once per CLEAN_INTERVAL. Messages expire after
`expiry` (60 s) and memberships after `group_expiry` (a day), so finding them up to a second
later changes nothing a client could notice.
"""

import time

from channels import layers


class InMemoryChannelLayer(layers.InMemoryChannelLayer):
    CLEAN_INTERVAL = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._cleaned_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.CLEAN_INTERVAL:
            return
        self._cleaned_at = now
        super()._clean_expired()
