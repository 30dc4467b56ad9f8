"""The ``sqlite://`` backend: histories in one SQLite database file, the embedded default store."""

from __future__ import annotations

from ._config import DEFAULT_BUSY_TIMEOUT, DEFAULT_PATH, MEMORY, Mode, SQLiteConfig, Synchronous, parse_target
from ._errors import DatabaseLockedError, ReadOnlyDatabaseError, SchemaVersionError
from ._schema import CURRENT_VERSION as SCHEMA_VERSION
from ._store import SQLiteHistoryStore, open_sqlite_store

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_PATH",
    "MEMORY",
    "Mode",
    "SCHEMA_VERSION",
    "DatabaseLockedError",
    "ReadOnlyDatabaseError",
    "SQLiteConfig",
    "SQLiteHistoryStore",
    "SchemaVersionError",
    "Synchronous",
    "open_sqlite_store",
    "parse_target",
]
