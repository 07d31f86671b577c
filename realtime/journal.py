"""
The hub's fast path for appending updates: a database connection of its own, used on the
event loop.

Every keystroke is committed before anyone else sees it (notes.hub, group commit). Committed on
the persist thread, each batch crossed threads twice, to the thread and back, and each crossing
waited for the other thread to be scheduled and to take the interpreter lock. On a busy 2-core
machine those waits and Django's transaction machinery were most of a keystroke's time in the
server (docs/benchmarks.md). Here the commit runs where the batch is: one INSERT per update and
a COMMIT that waits for the disk, as the persist thread's does.

- SQLite (`SQLiteJournal`): the standard library's driver, which blocks, so the event loop
  waits for the INSERT and the disk flush (WAL, synchronous=FULL, as Django's connections):
  0.3 to 1 ms at p50 here (a thread of its own was slower still: docs/architecture.md). Its
  busy timeout is 0, so it never sleeps in SQLite's busy handler behind another writer (a
  checkpoint, a compaction, a page view that writes). WAL checkpoints never run here
  (wal_autocheckpoint=0): folding the log into the database file takes milliseconds; the hub
  runs `wal_checkpoint` on the persist thread every CHECKPOINT_EVERY appends instead.
- PostgreSQL (`PostgresJournal`): psycopg's asyncio connection; the event loop goes on while
  the server commits.

Either only ever does the common case. Whenever it cannot commit at once it writes nothing and
returns False, and the hub hands the batch to the persist thread
(storage.note_updates_append), which handles everything else: another writer holds SQLite's
lock; a note was deleted while its edit was in flight (the foreign key fails); any other
database error, after which the connection is closed and opened again on next use.
"""

import logging
import sqlite3
from collections.abc import Sequence

import psycopg
from django.db import connection, connections

from notes.services import storage

logger = logging.getLogger("realtime.journal")

# SQLite appends between two WAL checkpoints (SQLite's own default is every 1,000 pages; an
# append writes one or two).
CHECKPOINT_EVERY = 500


class SQLiteJournal:
    """Appends to the update log of one SQLite database file."""

    def __init__(self, *, path: str, db) -> None:
        self.path = path
        self.db = db  # the Django connection whose settings (not connection) shape the rows
        self.sql = storage.INSERT_UPDATE_SQL.replace("%s", "?")
        self._connection: sqlite3.Connection | None = None
        self.since_checkpoint = 0

    async def append(self, entries: Sequence[storage.Append]) -> bool:
        """Commit `entries` in one transaction and return True; or write nothing and return
        False when that cannot be done at once (see the module docstring)."""
        rows = storage.note_update_rows(entries=entries, db=self.db)
        try:
            conn = self._connection or self._open()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(self.sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                logger.warning("journal append failed, reopening: %s", exc)
                await self.close()
            return False
        except sqlite3.Error as exc:
            # IntegrityError: a note deleted in flight. The persist thread keeps the rest.
            logger.info("journal append refused: %s", exc)
            return False
        self.since_checkpoint += len(rows)
        return True

    def _open(self) -> sqlite3.Connection:
        # timeout=0: not even opening may wait for a lock on the event loop.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA wal_autocheckpoint=0",
        ):
            conn.execute(pragma)
        self._connection = conn
        return conn

    async def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None

    def checkpoint_due(self) -> bool:
        """Whether CHECKPOINT_EVERY appends have gone by since this last said so."""
        if self.since_checkpoint < CHECKPOINT_EVERY:
            return False
        self.since_checkpoint = 0
        return True


class PostgresJournal:
    """Appends to the update log through an asyncio connection of its own."""

    def __init__(self, *, db) -> None:
        self.db = db
        self.sql = storage.INSERT_UPDATE_SQL
        self._connection: psycopg.AsyncConnection | None = None

    async def append(self, entries: Sequence[storage.Append]) -> bool:
        """Commit `entries` in one transaction and return True; or write nothing and return
        False (see the module docstring)."""
        rows = storage.note_update_rows(entries=entries, db=self.db)
        try:
            conn = self._connection or await self._open()
            async with conn.transaction(), conn.cursor() as cursor:
                await cursor.executemany(self.sql, rows)
        except psycopg.IntegrityError as exc:
            logger.info("journal append refused: %s", exc)
            return False
        except psycopg.Error as exc:
            logger.warning("journal append failed, reopening: %s", exc)
            await self.close()
            return False
        return True

    async def _open(self) -> psycopg.AsyncConnection:
        # Django's own parameters (server, credentials, options, type adapters), so rows are
        # adapted exactly as the persist thread's connection adapts them; its cursor class is
        # for synchronous connections.
        params = self.db.get_connection_params()
        params.pop("cursor_factory", None)
        params.setdefault("connect_timeout", 5)
        self._connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        return self._connection

    async def close(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.close()
            except psycopg.Error:
                pass
            self._connection = None

    def checkpoint_due(self) -> bool:
        return False  # PostgreSQL checkpoints on its own.


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock: normal, and the persist thread's turn."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def wal_checkpoint() -> None:
    """Fold SQLite's WAL into the database file as far as readers allow. Run on the persist
    thread, through its Django connection (never on the event loop)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


Journal = SQLiteJournal | PostgresJournal


def journal_for_default_database() -> Journal | None:
    """The fast path for the default database, or None where there is none (an SQLite
    database that lives only in memory)."""
    db = connections["default"]
    if db.vendor == "postgresql":
        return PostgresJournal(db=db)
    path = str(db.settings_dict["NAME"])
    if db.vendor != "sqlite" or db.is_in_memory_db() or not path:
        return None
    return SQLiteJournal(path=path, db=db)
