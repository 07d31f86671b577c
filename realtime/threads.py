"""
Where the engine's database work runs, off the event loop.

Writes go to one persist thread, so they never wait behind page views or loads and never race
each other (on SQLite there is one writer at a time anyway); reads go to a small pool.
Keystroke commits usually skip both (realtime.journal).
"""

import asyncio
import contextlib
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import InterfaceError, OperationalError, connection, connections

READ_THREADS = 2  # y-protocols clients renew every 15 s and drop peers after 30 s.


class DatabaseThreads:
    """The persist thread and the read threads of one hub."""

    def __init__(self) -> None:
        self._persist = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notes-persist")
        self._read = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="notes-read")

    async def run(self, fn, /, *, write: bool = False, **kwargs):
        """Run a service on the persist thread (writes) or a read thread."""
        executor = self._persist if write else self._read
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(_call_with_reconnect, fn, kwargs)
        )

    async def close(self) -> None:
        """Close each thread's database connection, then the threads."""
        for executor, size in ((self._persist, 1), (self._read, READ_THREADS)):
            await asyncio.get_running_loop().run_in_executor(
                None, _close_connections_in_threads, executor, size
            )
            executor.shutdown(wait=True)


def _call_with_reconnect(fn, kwargs: dict):
    """Call `fn` on this worker thread's long-lived connection.

    A connection the database dropped (restart, failover, idle timeout) fails on first use:
    close it and try once more on a fresh one. Every service run here is safe to repeat:
    reads are reads, and appending a Yjs update twice leaves the document unchanged.
    """
    try:
        return fn(**kwargs)
    except (OperationalError, InterfaceError):
        connection.close()
        return fn(**kwargs)


def _close_connections_in_threads(executor: ThreadPoolExecutor, size: int) -> None:
    """Close the database connection held by each of the executor's threads."""
    barrier = threading.Barrier(size)

    def close() -> None:
        connections.close_all()
        barrier.wait(timeout=10)  # holds this thread so the next task lands on another one

    for future in [executor.submit(close) for _ in range(size)]:
        with contextlib.suppress(Exception):
            future.result(timeout=15)
