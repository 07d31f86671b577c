"""Per-socket message rate limiting. Pure: no Django, no I/O."""

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` messages a second on average, and bursts of up to `burst`.

    Each message takes one token; tokens refill continuously. `take()` is False once the
    bucket is empty, which is when the caller refuses the sender.
    """

    __slots__ = ("rate", "burst", "tokens", "stamp", "clock")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        if self.rate <= 0:
            return True  # limiting is off
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
