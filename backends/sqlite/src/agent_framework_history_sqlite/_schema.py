"""Tables, schema versions and the forward migrations run when a database is opened.

Version 0 is the layout from before the version table existed: one ``af_history`` table with
``NULL`` for the anonymous partition (which a ``UNIQUE`` constraint never finds equal, so
re-appended items of the anonymous partition could be stored twice). Version 1 moved the
partition into ``af_history_sessions`` with ``''`` standing for ``None`` (``SessionKey`` never
holds an empty string, so ``''`` cannot meet a real value) and added the version table.

Version 2 makes a session a chain of turns (see ``_chains``): ``af_history_turns`` holds one row
per append that stored something, and every item row names its ``turn`` and ``branch``. An item
id is unique along a chain only, so the ``UNIQUE (session, item_id)`` of version 1 became a plain
index. Migrating from 1 renumbers each session's items ``1..n`` in their order and makes them
one root turn (turn 1, branch 1) with a fresh random head: version 1 kept no turn boundaries.

Version 3 adds what the hosting SDK's stores need (see ``_hosting``): ``af_history_responses``
(one row per response a host stored; its items are turns of an ordinary session),
``af_history_agent_sessions`` (versioned agent-session snapshots), and an index on item ids for
the host's item lookups. Migrating from 2 only creates them.

Version 4 records when each session was last appended to, for retention (``prune``):
``af_history_sessions.updated_at``, set by a trigger on every turn recorded (whichever code path
records it: the history store's appends and the hosting stores' alike). Migrating from 3 adds the
column and the trigger and sets ``updated_at`` of existing sessions to the time of the migration:
version 3 kept no such time, and a session must not look idle (and be pruned) for lack of one.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import Final

__all__ = [
    "ACTIVITY_FROM",
    "CURRENT_VERSION",
    "NOW",
    "READABLE_FROM",
    "ITEMS",
    "SESSIONS",
    "TURNS",
    "RESPONSES",
    "AGENT_SESSIONS",
    "VERSION_TABLE",
    "NO_PARTITION",
    "create_current",
    "migrate",
    "new_head",
    "read_version",
]

CURRENT_VERSION: Final = 4
READABLE_FROM: Final = 2
"""The oldest version a read-only open can read histories from: 2, 3 and 4 share the history tables
(version 3 adds only the hosting tables, which a read-only store does not touch, and version 4 only
the ``updated_at`` column, without which a read-only store cannot tell last activity)."""
ACTIVITY_FROM: Final = 4
"""The first version that records each session's last append (``updated_at``)."""
VERSION_TABLE: Final = "af_history_schema_version"
SESSIONS: Final = "af_history_sessions"
TURNS: Final = "af_history_turns"
ITEMS: Final = "af_history_items"
RESPONSES: Final = "af_history_responses"
AGENT_SESSIONS: Final = "af_history_agent_sessions"
V0_TABLE: Final = "af_history"

NO_PARTITION: Final = ""
"""How ``None`` (the anonymous partition) is stored in the ``user`` and ``chat`` columns."""

_SHARED_TABLES: Final = f"""
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
)
"""
_V1_ITEMS: Final = f"""
CREATE TABLE {ITEMS} (
    session INTEGER NOT NULL REFERENCES {SESSIONS} (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,
    UNIQUE (session, seq),
    UNIQUE (session, item_id)
)
"""
_V1_TABLES: Final = f"{_SHARED_TABLES};{_V1_ITEMS}"
"""The version 1 layout, as version 1 created it (the migration from version 0 builds it)."""

# Version 2: the turns, and items that name their turn and branch. No table constraint makes an
# index of its own, so every index has a name and is created after the table (the migration
# builds the new items table beside the old one, then renames it).
_V2_TURNS: Final = f"""
CREATE TABLE {TURNS} (
    session INTEGER NOT NULL REFERENCES {SESSIONS} (id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    head TEXT NOT NULL,
    parent INTEGER,
    branch INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (session, turn)
) WITHOUT ROWID;
CREATE UNIQUE INDEX af_history_turns_by_head ON {TURNS} (session, head)
"""
_V2_ITEMS_TABLE: Final = """
CREATE TABLE {name} (
    session INTEGER NOT NULL REFERENCES {sessions} (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    turn INTEGER NOT NULL,
    branch INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL
)
"""
_V2_ITEMS_INDEXES: Final = f"""
CREATE UNIQUE INDEX af_history_items_by_branch ON {ITEMS} (session, branch, seq);
CREATE INDEX af_history_items_by_id ON {ITEMS} (session, item_id, branch, seq)
"""


# Version 3: the hosting SDK's stores. A response row points at the session and turn holding its items;
# ``history`` is NULL when the history the host gave equals the end of the previous response's chain
# (``history_len`` ids of it), so a long chain costs no O(history) row per response.
_V3_TABLES: Final = f"""
CREATE TABLE {RESPONSES} (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    chat TEXT NOT NULL,
    response_id TEXT NOT NULL,
    session INTEGER REFERENCES {SESSIONS} (id) ON DELETE SET NULL,
    head TEXT,
    first_seq INTEGER,
    parent INTEGER REFERENCES {RESPONSES} (id) ON DELETE SET NULL,
    history TEXT,
    history_len INTEGER NOT NULL,
    input_ids TEXT NOT NULL,
    output_ids TEXT NOT NULL,
    envelope TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    conversation TEXT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX af_history_responses_by_id ON {RESPONSES} (user, chat, response_id);
CREATE INDEX af_history_responses_by_parent ON {RESPONSES} (parent) WHERE parent IS NOT NULL;
CREATE INDEX af_history_responses_by_turn ON {RESPONSES} (session, head);
CREATE INDEX af_history_responses_by_conversation ON {RESPONSES} (user, chat, conversation, id)
    WHERE conversation IS NOT NULL;
CREATE INDEX af_history_items_by_item ON {ITEMS} (item_id);
CREATE TABLE {AGENT_SESSIONS} (
    scope TEXT NOT NULL,
    record_id TEXT NOT NULL,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (scope, record_id)
) WITHOUT ROWID
"""


# Version 4: each session's last append. ALTER TABLE cannot give a new column a default that is not a
# constant, so the column is nullable and the trigger fills it in the transaction that records the turn.
NOW: Final = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
"""SQLite's clock as the text every time column holds (UTC, milliseconds), which sorts as it compares."""
_V4_STATEMENTS: Final = (
    f"ALTER TABLE {SESSIONS} ADD COLUMN updated_at TEXT",
    f"UPDATE {SESSIONS} SET updated_at = {NOW}",
    f"CREATE TRIGGER af_history_turns_touch_session AFTER INSERT ON {TURNS} "
    f"BEGIN UPDATE {SESSIONS} SET updated_at = {NOW} WHERE id = NEW.session; END",
)


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


def _v2_items_table(name: str) -> str:
    return _V2_ITEMS_TABLE.format(name=name, sessions=SESSIONS)


def create_current(conn: sqlite3.Connection) -> None:
    """Create the current layout in an empty database (inside the caller's transaction)."""
    _execute_script(conn, _SHARED_TABLES)
    _execute_script(conn, _V2_TURNS)
    conn.execute(_v2_items_table(ITEMS))
    _execute_script(conn, _V2_ITEMS_INDEXES)
    _execute_script(conn, _V3_TABLES)
    _add_activity(conn)
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


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    _execute_script(conn, _V2_TURNS)
    staging = f"{ITEMS}_v2"
    conn.execute(_v2_items_table(staging))
    conn.execute(
        f"INSERT INTO {staging} (session, seq, turn, branch, item_id, item) "
        "SELECT session, ROW_NUMBER() OVER (PARTITION BY session ORDER BY seq), 1, 1, item_id, item "
        f"FROM {ITEMS} ORDER BY session, seq"
    )
    sessions = conn.execute(f"SELECT session, MAX(seq) FROM {staging} GROUP BY session").fetchall()
    conn.executemany(
        f"INSERT INTO {TURNS} (session, turn, head, parent, branch, last_seq) VALUES (?, 1, ?, NULL, 1, ?)",
        [(session, new_head(), last_seq) for session, last_seq in sessions],
    )
    conn.execute(f"DROP TABLE {ITEMS}")
    conn.execute(f"ALTER TABLE {staging} RENAME TO {ITEMS}")
    _execute_script(conn, _V2_ITEMS_INDEXES)
    _record(conn, 2)


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    _execute_script(conn, _V3_TABLES)
    _record(conn, 3)


def _add_activity(conn: sqlite3.Connection) -> None:
    for statement in _V4_STATEMENTS:  # one by one: the trigger's body holds a ';'
        conn.execute(statement)


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    _add_activity(conn)
    _record(conn, 4)


def new_head() -> str:
    """A fresh chain head: random, so a head names one turn of one session and cannot be guessed."""
    return f"turn_{secrets.token_hex(16)}"


MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
}
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
