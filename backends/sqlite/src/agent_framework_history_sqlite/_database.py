"""One ``sqlite3`` connection driven from its own thread: each operation is one trip to that thread.

The connection is opened, used and closed on a single worker thread, so the event loop never
waits on SQLite and calls from many tasks are run one after another. Building a ``Database`` does
no I/O: the file is opened (checked, set up, migrated, with busy retries up to ``busy_timeout``) by
the first operation, on the worker, or by :meth:`Database.open`; a failed open is tried again by
the next one. The one exception is
:meth:`Database.glance`: a point read of a few index entries, run where it is asked on a second
connection that never waits for a lock (busy timeout zero), for a path where the trip to the worker
costs more than the read; whatever it cannot answer at once goes to the worker. An operation is a plain
function of the connection, run whole on the worker: a write is ``BEGIN IMMEDIATE`` …
``COMMIT`` around it, retried while SQLite reports the database busy, up to ``busy_timeout``.

A file this process cannot write (``mode="ro"``, a read-only mount, an immutable file or
directory; see ``_files``), or one SQLite refuses to write when opened, is opened read-only
(``file:…?mode=ro``): no migration, no ``PRAGMA`` that writes, and every write raises
:class:`ReadOnlyDatabaseError` before reaching SQLite. When even a read-only open fails because
SQLite cannot create the WAL index beside the file (a read-only directory), and no write-ahead
log with commits is waiting there, the file is read as ``immutable``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from agent_framework_history.backend import ConfigurationError, CorruptDataError, HistoryStoreError

from ._checkpoint import CHECKPOINT_EVERY, Checkpointer
from ._config import MEMORY, SQLiteConfig
from ._errors import (
    SQLITE_CANTOPEN,
    SQLITE_READONLY,
    ReadOnlyDatabaseError,
    SchemaVersionError,
    is_busy,
    primary_code,
    translate,
)
from ._files import exists, locate, make_parent, read_only_reason, wal_file
from ._schema import CURRENT_VERSION, READABLE_FROM, migrate, read_version
from ._worker import Worker

__all__ = ["Database"]

logger = logging.getLogger("agent_framework_history_sqlite")

T = TypeVar("T")

_FIRST_BACKOFF: Final = 0.001
_MAX_BACKOFF: Final = 0.05


class Database:
    """The store's connection, opened on the worker by the first operation (or :meth:`open`)."""

    def __init__(self, config: SQLiteConfig) -> None:
        self.config = config
        self.where = config.describe()
        self.file = locate(config)
        self.location: str | None = None if self.file is None else str(self.file)
        self.read_only: str | None = None
        """Why the database is open read-only; ``None`` when it is open for writing."""
        self._conn: sqlite3.Connection | None = None
        self._glance_conn: sqlite3.Connection | None = None
        self._glance_failed = False
        self._checkpointer: Checkpointer | None = None
        self._writes = 0
        self._closed = False
        self._worker = Worker("af-history-sqlite")

    # -- on the event loop ----------------------------------------------------------------

    async def open(self) -> None:
        """Open the file now (check, set up, migrate it) on the worker; nothing happens when it is open."""
        await self._worker.run(self._connection)

    async def read(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` on the worker (outside any explicit transaction)."""
        return await self._worker.run(lambda: self._run(operation, False))

    def glance(self, operation: Callable[[sqlite3.Connection], T], *, snapshot: bool = False) -> T | None:
        """Run a small read here, on the caller's thread, if SQLite can answer at once.

        For reads of a few index entries and rows (the host's per-turn point reads, a load of the
        latest few items, the items after a turn the caller has), where the trip to the worker would
        cost more than the read. A connection of its own, opened on first use, reads the last commit
        of any process (WAL readers take no lock a writer holds) with a busy timeout of zero, so it
        never waits: ``None`` means "ask the worker" (no WAL, an in-memory or read-only database, a
        busy or failing read), and the caller does. ``snapshot`` runs ``operation`` in one read
        transaction, so its statements see one state of the file.
        """
        conn = self._glance_conn
        if conn is None:
            if self._glance_failed or self._checkpointer is None:  # WAL on a writable file only
                return None
            try:
                conn = sqlite3.connect(self.location or "", timeout=0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error:
                self._glance_failed = True
                return None
            self._glance_conn = conn
        try:
            if not snapshot:
                return operation(conn)
            conn.execute("BEGIN")
            try:
                return operation(conn)
            finally:
                if conn.in_transaction:  # SQLite may have ended it already after an error
                    conn.execute("COMMIT")
        except sqlite3.Error:  # busy, or a real problem the worker will meet and report properly
            if snapshot:  # never leave the connection holding a snapshot (or find it closed)
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            return None

    async def write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` on the worker inside one ``BEGIN IMMEDIATE`` transaction."""
        if self.read_only is not None:  # known once open: refused without a trip to the worker
            raise self._read_only_error()
        return await self._worker.run(lambda: self._run(operation, True))

    def _read_only_error(self) -> ReadOnlyDatabaseError:
        return ReadOnlyDatabaseError(
            f"{self.where} is open read-only: {self.read_only}. Appending and deleting need a database this "
            "process can write; copy the file to a writable place to change it."
        )

    async def close(self) -> None:
        glance, self._glance_conn = self._glance_conn, None
        self._glance_failed = True  # nothing opens it again
        if glance is not None:
            glance.close()
        try:
            await self._worker.run(self._close)
        except BaseException:  # cancelled or failed: do not hold the event loop up waiting for the thread
            self._worker.stop(wait=False)
            raise
        self._worker.stop()  # the thread is idle now: this returns at once, and no thread outlives aclose()

    # -- on the worker thread -------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection, opening the file first when no operation has yet."""
        if self._closed:
            raise HistoryStoreError(f"The connection to {self.where} is closed.")
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _run(self, operation: Callable[[sqlite3.Connection], T], write: bool) -> T:
        conn = self._connection()
        if write and self.read_only is not None:  # opened read-only by this very call
            raise self._read_only_error()
        if not write:
            return self._retrying(conn, lambda: operation(conn))
        result = self._retrying(conn, lambda: _transaction(conn, operation))
        self._writes += 1
        if self._checkpointer is not None and self._writes % CHECKPOINT_EVERY == 0:
            self._checkpointer.request()
        return result

    def _retrying(self, conn: sqlite3.Connection, attempt: Callable[[], T]) -> T:
        """Call ``attempt``; while SQLite says busy, wait a little and call again, up to ``busy_timeout``.

        SQLite's own busy handler already waits for locks inside most calls; this loop covers the
        busy results it returns without waiting (WAL recovery, a checkpoint, the journal-mode switch).
        """
        deadline = time.monotonic() + self.config.busy_timeout
        backoff = _FIRST_BACKOFF
        while True:
            try:
                return attempt()
            except sqlite3.Error as exc:
                remaining = deadline - time.monotonic()
                if is_busy(exc) and remaining > 0:
                    time.sleep(min(backoff, remaining))
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                raise translate(exc, self.where, self.location) from exc

    def _open(self) -> sqlite3.Connection:
        file = self.file
        if file is None:
            return self._open_for_writing(MEMORY)
        if self.config.mode == "ro":
            if not exists(file, self.where):
                raise ConfigurationError(f"{self.where} does not exist; mode='ro' opens an existing database only.")
            return self._open_read_only(file, "it was opened with mode='ro'")
        if not exists(file, self.where):
            make_parent(file, self.where)
            return self._open_for_writing(str(file))
        reason = read_only_reason(file)
        if reason is not None:
            return self._open_read_only(file, reason)
        try:
            return self._open_for_writing(str(file))
        except HistoryStoreError as exc:
            if primary_code(exc.__cause__) not in (SQLITE_READONLY, SQLITE_CANTOPEN):
                raise
            reason = f"SQLite could not write to it ({exc.__cause__})"
        logger.warning("%s is opened read-only: %s.", self.where, reason)
        return self._open_read_only(file, reason)

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                target, timeout=self.config.busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
            )
        except sqlite3.Error as exc:
            raise translate(exc, self.where, self.location) from exc

    def _open_for_writing(self, path: str) -> sqlite3.Connection:
        conn = self._connect(path)
        try:
            wal = self._retrying(conn, lambda: self._prepare(conn))
        except BaseException:
            conn.close()
            raise
        if wal:
            self._checkpointer = Checkpointer(path, self.config.synchronous)
        return conn

    def _open_read_only(self, file: Path, reason: str) -> sqlite3.Connection:
        conn = self._connect(f"{file.as_uri()}?mode=ro", uri=True)
        try:
            version = self._retrying(conn, lambda: self._check_version(conn))
        except HistoryStoreError as exc:
            conn.close()
            if primary_code(exc.__cause__) != SQLITE_CANTOPEN:
                raise
            wal = wal_file(file)
            if exists(wal, self.where) and wal.stat().st_size > 0:
                raise ReadOnlyDatabaseError(
                    f"{self.where} cannot be read: {reason}, and its write-ahead log {str(wal)!r} holds commits that "
                    "SQLite reads only through an index it cannot create there. Copy the database with its -wal "
                    "file to a writable directory and open the copy."
                ) from exc
            reason += "; read as an immutable file, so changes other processes make meanwhile are not seen"
            conn = self._connect(f"{file.as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                version = self._retrying(conn, lambda: self._check_version(conn))
            except BaseException:
                conn.close()
                raise
        if version is None or version < READABLE_FROM:
            conn.close()
            found = "holds no history tables" if version is None else f"has schema version {version}"
            raise ReadOnlyDatabaseError(
                f"{self.where} {found} and cannot be brought to version {CURRENT_VERSION}: it is read-only "
                f"({reason}). Open it once with write access (or open a writable copy) to migrate it."
            )
        self.read_only = reason
        logger.info("%s is open read-only: %s.", self.where, reason)
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> bool:
        """Check the version, set the connection up, migrate; ``True`` when the file is in WAL mode."""
        self._check_version(conn)  # before anything writes to the file
        wal = False
        if not self.config.in_memory:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            wal = str(mode).lower() == "wal"
            if not wal:
                logger.warning(
                    "%s cannot use WAL mode (journal mode is %r, perhaps a network file system); "
                    "writers will block readers.",
                    self.where,
                    mode,
                )
        conn.execute(f"PRAGMA synchronous = {self.config.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self._check_version(conn) == CURRENT_VERSION:
            return wal

        def upgrade(conn: sqlite3.Connection) -> tuple[int | None, list[int]]:
            version = self._check_version(conn)  # again: another process may have migrated meanwhile
            return version, migrate(conn, version)

        before, reached = _transaction(conn, upgrade)
        if reached and before is not None:
            logger.info("Migrated %s from schema version %s to %s.", self.where, before, reached[-1])
        return wal

    def _check_version(self, conn: sqlite3.Connection) -> int | None:
        try:
            version = read_version(conn)
        except ValueError as exc:
            raise CorruptDataError(
                f"{self.where} has a damaged schema version table: {exc}.", location=self.location
            ) from exc
        if version is not None and version > CURRENT_VERSION:
            raise SchemaVersionError(
                f"{self.where} has schema version {version}, written by a newer agent-framework-history-sqlite; "
                f"this one knows versions up to {CURRENT_VERSION}. Upgrade it with "
                "'pip install -U agent-framework-history-sqlite'. Nothing was written to the file."
            )
        return version

    def _close(self) -> None:
        self._closed = True
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _transaction(conn: sqlite3.Connection, operation: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = operation(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # keep the first error; SQLite may have rolled back already
                conn.execute("ROLLBACK")
        raise
    return result
