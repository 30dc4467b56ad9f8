"""Table names, the SQL this backend runs, and the migrations that create its tables.

Layout (``<p>`` is the table prefix, every name lives in the configured schema):

- ``<p>schema_version``: one row per applied migration.
- ``<p>sessions``: one row per session; ``user_id`` / ``chat_id`` / ``session_id`` name it
  (``''`` stands for ``None``, which ``SessionKey`` never confuses with a value since it
  forbids empty strings), ``updated_at`` the time of its last append. Its only index
  besides the primary key is the unique key, so the per-append update of ``updated_at``
  is a HOT update (no index writes, no index bloat on busy sessions).
- ``<p>items``: one row per item; ``(session_ref, seq)`` is the primary key and the load
  order (``seq`` counts 1, 2, 3… within the session), ``(session_ref, item_id)`` is unique
  so re-appended ids are skipped, ``body`` is the item's JSON text.
- ``<p>append(...)``: the function that appends one turn (see :attr:`Names.append_function`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

__all__ = ["LATEST_VERSION", "Migration", "Names", "migrations"]


@dataclass(frozen=True, slots=True)
class Names:
    """Quoted, schema-qualified names of one store's tables."""

    schema: str
    prefix: str

    def _q(self, name: str) -> str:
        return f'"{self.schema}"."{self.prefix}{name}"'

    @property
    def quoted_schema(self) -> str:
        return f'"{self.schema}"'

    @property
    def version_table(self) -> str:
        return self._q("schema_version")

    @property
    def sessions(self) -> str:
        return self._q("sessions")

    @property
    def items(self) -> str:
        return self._q("items")

    def index(self, name: str) -> str:
        """An index name (indexes live in their table's schema, so it is not qualified)."""
        return f'"{self.prefix}{name}"'

    @property
    def lock_key(self) -> int:
        """The advisory-lock key that serialises migrations of this schema and prefix."""
        digest = hashlib.blake2b(f"agent-framework-history:{self.schema}.{self.prefix}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    # -- statements ------------------------------------------------------------------------

    @property
    def append_function(self) -> str:
        """The function that appends one turn: ``(user, chat, session, ids[], bodies[]) -> stored``.

        It runs as one statement, so an append costs one round trip and commits whole or not
        at all. Inside, under READ COMMITTED, each statement of a VOLATILE function takes a
        fresh snapshot:

        1. The upsert creates the session row if needed and locks it until the commit, so
           appends to one session take turns, whichever machine they come from.
        2. The next statements run after the lock is held, so they see every item committed
           by the appends that held it before: the session's highest ``seq`` (one probe of the
           primary key), and which ids are already stored. New items are numbered after that
           highest ``seq`` in the order given. The lock is held until the commit, so turns
           commit in ``seq`` order and a reader never sees a later turn without an earlier one.
        """
        return (
            f"CREATE OR REPLACE FUNCTION {self._q('append')}("
            "p_user text, p_chat text, p_session text, p_ids text[], p_bodies text[]) "
            "RETURNS integer LANGUAGE plpgsql VOLATILE AS $fn$\n"
            "DECLARE v_ref bigint; v_next bigint; v_stored integer;\n"
            "BEGIN\n"
            f"  INSERT INTO {self.sessions} AS s (user_id, chat_id, session_id) VALUES (p_user, p_chat, p_session)\n"
            "  ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()\n"
            "  RETURNING s.id INTO v_ref;\n"
            f"  SELECT coalesce(max(seq), 0) INTO v_next FROM {self.items} WHERE session_ref = v_ref;\n"
            "  WITH fresh AS (\n"
            "    SELECT t.item_id, t.body, t.ord\n"
            "    FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)\n"
            f"    WHERE NOT EXISTS (SELECT 1 FROM {self.items} i\n"
            "      WHERE i.session_ref = v_ref AND i.item_id = t.item_id)\n"
            "  ), added AS (\n"
            f"    INSERT INTO {self.items} (session_ref, seq, item_id, body)\n"
            "    SELECT v_ref, v_next + row_number() OVER (ORDER BY ord), item_id, body::json FROM fresh ORDER BY ord\n"
            "    RETURNING 1\n"
            "  )\n"
            "  SELECT count(*) INTO v_stored FROM added;\n"
            "  RETURN v_stored;\n"
            "END\n"
            "$fn$"
        )

    @property
    def append(self) -> str:
        return f"SELECT {self._q('append')}($1, $2, $3, $4::text[], $5::text[])"

    def _session_ref(self) -> str:
        return f"(SELECT id FROM {self.sessions} WHERE user_id = $1 AND chat_id = $2 AND session_id = $3)"

    @property
    def load_all(self) -> str:
        return f"SELECT seq, body FROM {self.items} WHERE session_ref = {self._session_ref()} ORDER BY seq"

    @property
    def load_latest(self) -> str:
        """The latest ``$4`` items, newest first (the caller reverses them): a backward index scan."""
        return (
            f"SELECT seq, body FROM {self.items} WHERE session_ref = {self._session_ref()} ORDER BY seq DESC LIMIT $4"
        )

    @property
    def delete_session(self) -> str:
        return (
            f"DELETE FROM {self.sessions} WHERE user_id = $1 AND chat_id = $2 AND session_id = $3 "
            f"RETURNING EXISTS (SELECT 1 FROM {self.items} i WHERE i.session_ref = id)"
        )

    def list_sessions(self, *, by_user: bool, by_chat: bool) -> str:
        """A page of sessions holding items, after the cursor ``($1, $2, $3)``, in key order.

        ``$4`` is the page size; ``$5`` / ``$6`` are the user / chat filters when given.
        """
        where = ["(s.user_id, s.chat_id, s.session_id) > ($1, $2, $3)"]
        if by_user:
            where.append("s.user_id = $5")
        if by_chat:
            where.append(f"s.chat_id = ${6 if by_user else 5}")
        where.append(f"EXISTS (SELECT 1 FROM {self.items} i WHERE i.session_ref = s.id)")
        return (
            f"SELECT s.user_id, s.chat_id, s.session_id FROM {self.sessions} s WHERE {' AND '.join(where)} "
            "ORDER BY s.user_id, s.chat_id, s.session_id LIMIT $4"
        )

    @property
    def current_version(self) -> str:
        return f"SELECT max(version) FROM {self.version_table}"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def migrations(names: Names) -> list[Migration]:
    """Every migration, oldest first. Append new ones; never change a released one."""
    n = names
    return [
        Migration(
            1,
            "sessions and items",
            (
                f"CREATE TABLE {n.sessions} ("
                " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " user_id text NOT NULL,"
                " chat_id text NOT NULL,"
                " session_id text NOT NULL CHECK (session_id <> ''),"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " updated_at timestamptz NOT NULL DEFAULT now(),"
                f" CONSTRAINT {n.index('sessions_key')} UNIQUE (user_id, chat_id, session_id))",
                f"CREATE TABLE {n.items} ("
                f" session_ref bigint NOT NULL REFERENCES {n.sessions} (id) ON DELETE CASCADE,"
                " seq bigint NOT NULL,"
                " item_id text NOT NULL,"
                " body json NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                f" CONSTRAINT {n.index('items_order')} PRIMARY KEY (session_ref, seq),"
                f" CONSTRAINT {n.index('items_id')} UNIQUE (session_ref, item_id))",
                n.append_function,
            ),
        ),
    ]


LATEST_VERSION: Final = 1
