"""The SQLite backend's own errors, and how ``sqlite3`` errors become the library's."""

from __future__ import annotations

import sqlite3
from typing import Final

from agent_framework_history.backend import CorruptDataError, HistoryStoreError, SchemaVersionError

__all__ = ["DatabaseLockedError", "ReadOnlyDatabaseError", "SchemaVersionError", "is_busy", "primary_code", "translate"]

_SQLITE_CORRUPT: Final = 11
_SQLITE_NOTADB: Final = 26
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
SQLITE_READONLY: Final = 8
SQLITE_CANTOPEN: Final = 14

# SchemaVersionError (a database written by a newer release, raised on open before anything is written)
# is the core's, re-exported here for the code that imported it from this package.


class DatabaseLockedError(HistoryStoreError):
    """Another connection held the database's write lock for longer than ``busy_timeout``."""


class ReadOnlyDatabaseError(HistoryStoreError):
    """The database is open read-only, or SQLite refused to write to it; the message says why."""


def primary_code(exc: BaseException | None) -> int | None:
    """SQLite's primary result code of ``exc`` (``None`` when it is not a ``sqlite3`` error)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked / busy", which a later try may not meet."""
    return isinstance(exc, sqlite3.OperationalError) and primary_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def translate(exc: sqlite3.Error, where: str, location: str | None) -> HistoryStoreError:
    """The library error for a ``sqlite3`` error met while working on ``where``."""
    code = primary_code(exc)
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return CorruptDataError(
            f"{where} is not a readable SQLite database ({exc}). Move the file aside (or restore it from a "
            "backup) and open the store again to start a new one.",
            location=location,
        )
    if code == SQLITE_READONLY:
        return ReadOnlyDatabaseError(
            f"SQLite refused to write to {where}: it is read-only ({exc}). Check the permissions of the file and "
            "its directory, or open it with mode='ro' (sqlite:///path.db?mode=ro) to read it."
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseLockedError(
            f"{where} stayed locked by another connection past the busy timeout ({exc}). Raise busy_timeout "
            "(for example sqlite:///history.db?busy_timeout=30), or find the process holding a long transaction."
        )
    return HistoryStoreError(f"SQLite failed on {where}: {type(exc).__name__}: {exc}")
