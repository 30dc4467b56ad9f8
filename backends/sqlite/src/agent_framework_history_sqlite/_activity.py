"""Each session's last append (schema version 4's ``updated_at``): listing it and pruning by it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final

from agent_framework_history.backend import ALL, AllPartitions, UnsupportedOperationError

from ._schema import ACTIVITY_FROM, ITEMS, NO_PARTITION, SESSIONS, read_version

__all__ = ["delete_idle", "list_activity"]

_LAST_ACTIVE: Final = "COALESCE(s.updated_at, s.created_at)"
_DELETE_IDLE: Final = (
    f"DELETE FROM {SESSIONS} AS s WHERE s.user = ? AND s.chat = ? AND s.session_id = ? AND {_LAST_ACTIVE} < ?"
)
_MILLISECOND: Final = timedelta(milliseconds=1)


def _text(moment: datetime) -> str:
    """``moment`` in the form of the time columns, rounded up to the millisecond they keep.

    A stored time ``t`` (whole milliseconds) is before ``moment`` exactly when it is before ``moment``
    rounded up, so the comparison in SQL agrees with the one on ``datetime`` values.
    """
    utc = moment.astimezone(UTC)
    rest = utc - utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    if rest:
        utc += _MILLISECOND - rest
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _require_activity(conn: sqlite3.Connection, where: str) -> None:
    version = read_version(conn)
    if version is not None and version < ACTIVITY_FROM:
        raise UnsupportedOperationError(
            f"{where} has schema version {version}, which does not record when sessions were last used "
            f"(version {ACTIVITY_FROM} does); it is open read-only, so it cannot be migrated. Open it once "
            "with write access to bring it to the current version."
        )


def list_activity(
    conn: sqlite3.Connection, user: str | AllPartitions | None, chat: str | AllPartitions | None, where: str
) -> list[tuple[str, str, str, datetime]]:
    """``(user, chat, session_id, last append)`` of each session of the partition that holds items."""
    _require_activity(conn, where)
    conditions = [f"EXISTS (SELECT 1 FROM {ITEMS} AS i WHERE i.session = s.id)"]
    params: list[str] = []
    for column, value in (("user", user), ("chat", chat)):
        if value is not ALL:
            conditions.append(f"s.{column} = ?")
            params.append(value if isinstance(value, str) else NO_PARTITION)
    query = (
        f"SELECT s.user, s.chat, s.session_id, {_LAST_ACTIVE} FROM {SESSIONS} AS s "
        f"WHERE {' AND '.join(conditions)} ORDER BY s.id"
    )
    rows: list[tuple[str, str, str, str]] = conn.execute(query, params).fetchall()
    return [(u, c, session_id, _time(text)) for u, c, session_id, text in rows]


def delete_idle(conn: sqlite3.Connection, partition: tuple[str, str, str], before: datetime) -> bool:
    """Delete the session if its last append is before ``before``, in the caller's write transaction."""
    return conn.execute(_DELETE_IDLE, (*partition, _text(before))).rowcount > 0
