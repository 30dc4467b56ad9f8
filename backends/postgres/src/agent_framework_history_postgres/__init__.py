"""The ``postgresql://`` backend: one history shared by every replica, kept in PostgreSQL.

Public names are imported on first use, so discovering the backend (which imports this
package) does not load asyncpg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_framework_history.backend import lazy_exports

if TYPE_CHECKING:
    from ._config import SCHEMES, PostgresSettings, parse_settings, redact_dsn
    from ._errors import PostgresServerError, PostgresUnavailableError, UnstorableItemError, is_connection_loss
    from ._probe import probe
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
    "PostgresServerError",
    "PostgresSettings",
    "PostgresUnavailableError",
    "UnstorableItemError",
    "is_connection_loss",
    "open_postgres_store",
    "parse_settings",
    "probe",
    "redact_dsn",
]

_HOMES = {
    "SCHEMES": "._config",
    "PostgresSettings": "._config",
    "parse_settings": "._config",
    "redact_dsn": "._config",
    "PostgresServerError": "._errors",
    "PostgresUnavailableError": "._errors",
    "UnstorableItemError": "._errors",
    "is_connection_loss": "._errors",
    "probe": "._probe",
    "LATEST_VERSION": "._schema",
    "Names": "._schema",
    "MAX_INDEXED_BYTES": "._store",
    "PostgresHistoryStore": "._store",
    "open_postgres_store": "._store",
    "Connection": "._types",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
