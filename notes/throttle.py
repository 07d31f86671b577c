"""
Counting limits on Django's cache: how many times someone did something within a window, and
how long they must wait. The account views use them for bursts of failed logins, sign-ups and
password-reset emails. The cache is Redis when REDIS_URL is set, so every process agrees.

A window starts with the first event counted in it and lasts `window` seconds. Counts belong to
one site database: sites (or test runs) that share a Redis never add to each other's. If the
cache cannot be reached, the limits are skipped with a warning rather than turning logins into
errors; django-axes's lockout, kept in the database, still applies.
"""

import hashlib
import logging
import math
import time

from django.core.cache import cache
from django.db import connection

logger = logging.getLogger("notes.throttle")

MINUTE, HOUR = 60, 3600  # the windows in use, in seconds


def throttle_wait(scope: str, who: str, *, limit: int, window: int) -> int:
    """Seconds until `who` may act again in `scope`: while `limit` events are counted in the
    `window` seconds since the first of them. 0 if `who` may act now, or the limit is 0 (off)."""
    if limit <= 0:
        return 0
    key = _window_key(scope, who, window)
    try:
        state = cache.get_many([f"{key}:start", key])
    except Exception as exc:
        logger.warning("throttle skipped, the cache is unavailable: %s", exc)
        return 0
    started, count = state.get(f"{key}:start"), state.get(key, 0)
    remaining = started + window - time.time() if started is not None else 0
    if count < limit or remaining <= 0:
        return 0
    return math.ceil(remaining)


def throttle_count(scope: str, who: str, *, window: int) -> None:
    """Count one event for `who` in `scope`; the window starts with the first event."""
    key = _window_key(scope, who, window)
    try:
        cache.add(f"{key}:start", time.time(), timeout=window)
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # the window ended between the two calls
            cache.set(key, 1, timeout=window)
    except Exception as exc:
        logger.warning("throttle count lost, the cache is unavailable: %s", exc)


def wait_in_words(seconds: int) -> str:
    """`45 seconds`, `3 minutes`: how long to wait, for a message."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _window_key(scope: str, who: str, window: int) -> str:
    site = str(connection.settings_dict["NAME"])
    digest = hashlib.blake2s(f"{site}\n{who}".encode(), digest_size=12).hexdigest()
    return f"throttle:{scope}:{window}:{digest}"
