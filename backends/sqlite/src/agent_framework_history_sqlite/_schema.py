"""Tables, schema versions and the forward migrations run when a database is opened.

Version 0 is the layout from before the version table existed: one ``af_history`` table with
``NULL`` for the anonymous partition (which a ``UNIQUE`` constraint never finds equal, so
re-appended items of the anonymous partition could be stored twice). Version 1 moved the
partition into ``af_history_sessions`` with ``''`` standing for ``None`` (``SessionKey`` never
holds an empty string, so ``''`` cannot meet a real value) and added the version table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

__all__ = [
    "CURRENT_VERSION",
    "ITEMS",
    "SESSIONS",
    "VERSION_TABLE",
    "NO_PARTITION",
    "create_current",
    "migrate",
    "read_version",
]

CURRENT_VERSION: Final = 1
VERSION_TABLE: Final = "af_history_schema_version"
SESSIONS: Final = "af_history_sessions"
ITEMS: Final = "af_history_items"
V0_TABLE: Final = "af_history"

NO_PARTITION: Final = ""
"""How ``None`` (the anonymous partition) is stored in the ``user`` and ``chat`` columns."""

_V1_TABLES: Final = f"""
CREATE TABLE {VERSION_TABLE} (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE {SESSIONS} (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    chat TEXT NOT NULL,
    session_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (user, chat, session_id)
);
CREATE TABLE {ITEMS} (
    session INTEGER NOT NULL REFERENCES {SESSIONS} (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,
    UNIQUE (session, seq),
    UNIQUE (session, item_id)
);
"""


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'af\\_history%' ESCAPE '\\'")
    return {name for (name,) in rows}


def read_version(conn: sqlite3.Connection) -> int | None:
    """The schema version of the database, ``None`` when it holds none of our tables. Writes nothing."""
    tables = _tables(conn)
    if VERSION_TABLE in tables:
        (version,) = conn.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
        if not isinstance(version, int):
            raise ValueError(f"table {VERSION_TABLE} holds no version")
        return version
    if V0_TABLE in tables:
        return 0
    return None


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the caller's transaction first; run statement by statement instead.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _record(conn: sqlite3.Connection, version: int) -> None:
    conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (version,))


def create_current(conn: sqlite3.Connection) -> None:
    """Create the current layout in an empty database (inside the caller's transaction)."""
    _execute_script(conn, _V1_TABLES)
    _record(conn, CURRENT_VERSION)


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    _execute_script(conn, _V1_TABLES)
    conn.execute(
        f"INSERT INTO {SESSIONS} (user, chat, session_id) "
        f"SELECT COALESCE(user, ?), COALESCE(chat, ?), session_id FROM {V0_TABLE} "
        "GROUP BY COALESCE(user, ?), COALESCE(chat, ?), session_id ORDER BY MIN(rowid)",
        (NO_PARTITION,) * 4,
    )
    # Numbered again, oldest first, so the first copy of an id the old layout stored twice is the one kept.
    conn.execute(
        f"INSERT INTO {ITEMS} (session, seq, item_id, item) "
        f"SELECT s.id, ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY o.seq, o.rowid), o.item_id, o.item "
        f"FROM {V0_TABLE} AS o JOIN {SESSIONS} AS s "
        "ON s.user = COALESCE(o.user, ?) AND s.chat = COALESCE(o.chat, ?) AND s.session_id = o.session_id "
        "WHERE true ORDER BY s.id, o.seq, o.rowid "
        "ON CONFLICT (session, item_id) DO NOTHING",
        (NO_PARTITION, NO_PARTITION),
    )
    conn.execute(f"DROP TABLE {V0_TABLE}")
    _record(conn, 1)


MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {0: _migrate_0_to_1}
"""``MIGRATIONS[n]`` turns a version ``n`` database into version ``n + 1``."""


def migrate(conn: sqlite3.Connection, version: int | None) -> list[int]:
    """Bring the database from ``version`` to :data:`CURRENT_VERSION` (inside the caller's transaction).

    Returns the versions reached, in order (empty when nothing was to do).
    """
    if version is None:
        create_current(conn)
        return [CURRENT_VERSION]
    reached: list[int] = []
    while version < CURRENT_VERSION:
        MIGRATIONS[version](conn)
        version += 1
        reached.append(version)
    return reached
