"""The ``postgresql://`` backend: one history shared by every replica, kept in PostgreSQL."""

from __future__ import annotations

from ._config import SCHEMES, PostgresSettings, parse_settings, redact_dsn
from ._errors import PostgresUnavailableError, is_connection_loss
from ._schema import LATEST_VERSION, Names
from ._store import MAX_INDEXED_BYTES, PostgresHistoryStore, open_postgres_store
from ._types import Connection

__all__ = [
    "LATEST_VERSION",
    "MAX_INDEXED_BYTES",
    "SCHEMES",
    "Connection",
    "Names",
    "PostgresHistoryStore",
    "PostgresSettings",
    "PostgresUnavailableError",
    "is_connection_loss",
    "open_postgres_store",
    "parse_settings",
    "redact_dsn",
]
