"""The SQL of retention: removing a session only while its last append (``sessions.updated_at``) is old.

Listing the times is ``Names.list_sessions``, which reads ``updated_at`` with each key.
"""

from __future__ import annotations

from ._schema import Names

__all__ = ["delete_idle_sql"]


def delete_idle_sql(n: Names) -> str:
    """Delete the session ``($1, $2, $3)`` if its last append is before ``$4``; returns a row when it did.

    The append function updates ``updated_at`` under the session row's lock, so an append and this
    delete are ordered: a session appended to first is no longer idle when the delete reads its row.
    """
    return (
        f"DELETE FROM {n.sessions} WHERE user_id = $1 AND chat_id = $2 AND session_id = $3 AND updated_at < $4 "
        "RETURNING id"
    )
