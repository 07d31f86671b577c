"""
How long this machine's disk takes to make a commit durable, measured where the benchmark's
database lives.

Every keystroke our server accepts is committed (SQLite in WAL mode, synchronous=FULL: one
flush of the log per commit) before anyone else sees it; the reference server keeps nothing.
So the disk's flush latency is part of every figure of ours, and on a shared virtual disk it
changes from hour to hour (p99 from under 1 ms to over 10 ms on the same machine). The runner
measures it before and after the scenarios and the report prints it beside the machine, so
that a run's tail latencies can be read against the disk they ran on.
"""

import sqlite3
import tempfile
import time
from pathlib import Path

from bench.rounds import summarize

COMMITS = 1000
# Keystrokes arrive spaced out, not back to back; a pause between commits keeps the disk's
# write cache from merging them.
PAUSE_S = 0.002


def flush_latency(directory: str | None = None, *, commits: int = COMMITS) -> dict:
    """Commit one small row `commits` times, as our server's journal does (realtime/journal.py),
    in a fresh database under `directory` (the temporary directory by default); return the
    commit times' summary in ms."""
    with tempfile.TemporaryDirectory(prefix="bench-disk-", dir=directory) as tmp:
        conn = sqlite3.connect(Path(tmp) / "flush.sqlite3", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("CREATE TABLE t (data BLOB)")
            row = (bytes(64),)
            times = []
            for _ in range(commits):
                started = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t (data) VALUES (?)", row)
                conn.execute("COMMIT")
                times.append((time.perf_counter() - started) * 1000)
                time.sleep(PAUSE_S)
        finally:
            conn.close()
    return summarize(times)
