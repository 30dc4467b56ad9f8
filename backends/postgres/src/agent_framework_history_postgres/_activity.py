"""The SQL of retention: each session's last append (``sessions.updated_at``, kept since schema version 1)."""

from __future__ import annotations

from ._schema import Names

__all__ = ["delete_idle_sql", "list_activity_sql"]


def list_activity_sql(n: Names, *, by_user: bool, by_chat: bool) -> str:
    """A page of ``(user_id, chat_id, session_id, updated_at)`` of sessions holding items, after the cursor.

    ``$1, $2, $3`` is the cursor, ``$4`` the page size, ``$5`` / ``$6`` the user / chat filters when given.
    """
    where = ["(s.user_id, s.chat_id, s.session_id) > ($1, $2, $3)"]
    if by_user:
        where.append("s.user_id = $5")
    if by_chat:
        where.append(f"s.chat_id = ${6 if by_user else 5}")
    where.append(f"EXISTS (SELECT 1 FROM {n.items} i WHERE i.session_ref = s.id)")
    return (
        f"SELECT s.user_id, s.chat_id, s.session_id, s.updated_at FROM {n.sessions} s "
        f"WHERE {' AND '.join(where)} ORDER BY s.user_id, s.chat_id, s.session_id LIMIT $4"
    )


def delete_idle_sql(n: Names) -> str:
    """Delete the session ``($1, $2, $3)`` if its last append is before ``$4``; returns a row when it did.

    The append function updates ``updated_at`` under the session row's lock, so an append and this
    delete are ordered: a session appended to first is no longer idle when the delete reads its row.
    """
    return (
        f"DELETE FROM {n.sessions} WHERE user_id = $1 AND chat_id = $2 AND session_id = $3 AND updated_at < $4 "
        "RETURNING id"
    )
