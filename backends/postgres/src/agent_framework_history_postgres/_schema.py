"""Table names, the SQL this backend runs, and the migrations that create its tables.

Layout (``<p>`` is the table prefix, every name lives in the configured schema):

- ``<p>schema_version``: one row per applied migration.
- ``<p>sessions``: one row per session; ``user_id`` / ``chat_id`` / ``session_id`` name it
  (``''`` stands for ``None``, which ``SessionKey`` never confuses with a value since it
  forbids empty strings), ``updated_at`` the time of its last append. Its only index
  besides the primary key is the unique key, so the per-append update of ``updated_at``
  is a HOT update (no index writes, no index bloat on busy sessions).
- ``<p>turns``: one row per recorded turn (an append that stored at least one item).
  ``turn`` counts 1, 2, 3… within the session; ``head`` is the turn's random, opaque name
  (``turn_`` + 32 hex digits, unique within the session) that ``append`` returns;
  ``parent`` is the turn it continued (``NULL`` for a root); ``branch`` and ``fork`` place it
  in the tree (below); ``first_seq`` .. ``last_seq`` are the ``seq`` numbers of its items.
- ``<p>items``: one row per item; ``seq`` counts 1, 2, 3… within the session in append
  order (across all branches), ``branch`` is the branch of the turn that stored it,
  ``(session_ref, branch, seq)`` is the primary key and the load order,
  ``(session_ref, item_id)`` an index for skipping ids already in a chain, ``body`` the
  item's JSON text.
- ``<p>append(...)``: the function that appends one turn (see :attr:`Names.append_function`).

Branches. A branch is a linear run of turns: its id is the ``turn`` number of its first
turn, and ``fork`` (the same on every turn of the branch) is the turn the branch grew from
(``NULL`` for a root branch). Appending at the latest turn of a branch continues the branch;
appending at an earlier turn starts a new branch. So every item of branch ``b`` with
``seq <= u`` belongs to the chain ending at the turn of ``b`` whose ``last_seq`` is ``u``,
and the chain ending at a turn ``H`` is a few segments ``(branch, upto)``: ``(H.branch,
H.last_seq)``, then ``(F.branch, F.last_seq)`` for ``F`` = the fork turn of that branch, and
so on to a root — one segment per fork in its ancestry, found by one recursive query over
the turns' primary key. Every item of an ancestor segment was stored before the fork that
left it, so ordering the chain's items by ``seq`` gives the chain's order.
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

    @property
    def turns(self) -> str:
        return self._q("turns")

    @property
    def append_routine(self) -> str:
        """The qualified name of the append function."""
        return self._q("append")

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
        """The function that appends one turn (schema version 2).

        ``(user, chat, session, latest, head, new_head, ids[], bodies[]) ->
        (o_stored, o_head, o_known)``: with ``latest`` the turn continues the session's latest
        turn, else the turn named ``head`` (``NULL`` or unknown: a new root chain, and
        ``o_known`` is false). ``new_head`` is the name the new turn gets.

        It runs as one statement, so an append costs one round trip and commits whole or not
        at all. Inside, under READ COMMITTED, each statement of a VOLATILE function takes a
        fresh snapshot:

        1. The upsert creates the session row if needed and locks it until the commit, so
           appends to one session take turns, whichever machine they come from.
        2. A turn named ``new_head`` already there means this is the retry of a call whose
           commit went through but whose reply was lost: it reports that turn again.
        3. The latest turn (one backward probe of the turns' primary key) gives the next
           ``turn`` and ``seq`` numbers; the base turn is that one or the one named ``head``
           (one probe of the unique ``(session_ref, head)`` index).
        4. One recursive query walks the base's forks to its chain's ``(branch, upto)``
           segments; the new ids are looked up in the ``(session_ref, item_id)`` index and
           dropped when a match lies inside a segment (the same id on another branch does
           not count).
        5. The rest are inserted on the base's branch when the base is that branch's latest
           turn (one probe of ``(session_ref, branch, turn)``), else on a new branch whose
           id is the new turn's number; then the turn row is written. Nothing new: no turn,
           and the base's head is returned.

        The lock is held until the commit, so turns commit in ``turn`` and ``seq`` order and
        a reader never sees a later turn without an earlier one.
        """
        return (
            f"CREATE FUNCTION {self.append_routine}("
            "p_user text, p_chat text, p_session text, p_latest boolean, p_head text, p_new_head text,"
            " p_ids text[], p_bodies text[], OUT o_stored integer, OUT o_head text, OUT o_known boolean)"
            " LANGUAGE plpgsql VOLATILE AS $fn$\n"
            "DECLARE\n"
            "  v_ref bigint;\n"
            "  v_last_turn bigint; v_last_seq bigint;\n"
            "  v_turn bigint; v_head text; v_branch bigint; v_fork bigint; v_upto bigint;\n"
            "  v_branches bigint[]; v_uptos bigint[];\n"
            "  v_new_branch bigint; v_new_fork bigint;\n"
            "BEGIN\n"
            f"  INSERT INTO {self.sessions} AS s (user_id, chat_id, session_id) VALUES (p_user, p_chat, p_session)\n"
            "  ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()\n"
            "  RETURNING s.id INTO v_ref;\n"
            # 2. the retry of a call that committed
            f"  SELECT t.last_seq - t.first_seq + 1 INTO o_stored FROM {self.turns} t\n"
            "  WHERE t.session_ref = v_ref AND t.head = p_new_head;\n"
            "  IF FOUND THEN\n"
            "    o_head := p_new_head; o_known := true; RETURN;\n"
            "  END IF;\n"
            # 3. the latest turn, and the base
            "  SELECT t.turn, t.last_seq, t.head, t.branch, t.fork\n"
            "  INTO v_last_turn, v_last_seq, v_head, v_branch, v_fork\n"
            f"  FROM {self.turns} t WHERE t.session_ref = v_ref ORDER BY t.turn DESC LIMIT 1;\n"
            "  IF NOT FOUND THEN\n"
            "    v_last_turn := 0;\n"
            f"    SELECT coalesce(max(i.seq), 0) INTO v_last_seq FROM {self.items} i WHERE i.session_ref = v_ref;\n"
            "  END IF;\n"
            "  IF p_latest THEN\n"
            "    v_turn := nullif(v_last_turn, 0); v_upto := v_last_seq;\n"
            "  ELSE\n"
            "    v_turn := NULL; v_head := NULL; v_branch := NULL; v_fork := NULL;\n"
            "    IF p_head IS NOT NULL THEN\n"
            "      SELECT t.turn, t.head, t.branch, t.fork, t.last_seq INTO v_turn, v_head, v_branch, v_fork, v_upto\n"
            f"      FROM {self.turns} t WHERE t.session_ref = v_ref AND t.head = p_head;\n"
            "    END IF;\n"
            "  END IF;\n"
            "  o_known := v_turn IS NOT NULL;\n"
            # 4. the base's chain, as (branch, upto) segments
            "  IF v_turn IS NOT NULL THEN\n"
            "    WITH RECURSIVE seg(branch, upto, fork) AS (\n"
            "      SELECT v_branch, v_upto, v_fork\n"
            "      UNION ALL\n"
            "      SELECT f.branch, f.last_seq, f.fork FROM seg CROSS JOIN LATERAL (\n"
            f"        SELECT t.branch, t.last_seq, t.fork FROM {self.turns} t\n"
            "        WHERE t.session_ref = v_ref AND t.turn = seg.fork LIMIT 1) f\n"
            "    )\n"
            "    SELECT array_agg(seg.branch), array_agg(seg.upto) INTO v_branches, v_uptos FROM seg;\n"
            "  END IF;\n"
            # 5. continue the base's branch, or start one
            "  IF v_turn IS NULL THEN\n"
            "    v_new_branch := v_last_turn + 1; v_new_fork := NULL;\n"
            f"  ELSIF EXISTS (SELECT 1 FROM {self.turns} t\n"
            "      WHERE t.session_ref = v_ref AND t.branch = v_branch AND t.turn > v_turn) THEN\n"
            "    v_new_branch := v_last_turn + 1; v_new_fork := v_turn;\n"
            "  ELSE\n"
            "    v_new_branch := v_branch; v_new_fork := v_fork;\n"
            "  END IF;\n"
            "  WITH fresh AS (\n"
            "    SELECT t.item_id, t.body, t.ord\n"
            "    FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)\n"
            "    WHERE v_branches IS NULL OR NOT EXISTS (\n"
            f"      SELECT 1 FROM {self.items} i\n"
            "      JOIN unnest(v_branches, v_uptos) AS seg(branch, upto)\n"
            "        ON i.branch = seg.branch AND i.seq <= seg.upto\n"
            "      WHERE i.session_ref = v_ref AND i.item_id = t.item_id)\n"
            "  ), added AS (\n"
            f"    INSERT INTO {self.items} (session_ref, branch, seq, item_id, body)\n"
            "    SELECT v_ref, v_new_branch, v_last_seq + row_number() OVER (ORDER BY ord), item_id, body::json\n"
            "    FROM fresh ORDER BY ord\n"
            "    RETURNING 1\n"
            "  )\n"
            "  SELECT count(*) INTO o_stored FROM added;\n"
            "  IF o_stored = 0 THEN\n"
            "    o_head := v_head; RETURN;\n"
            "  END IF;\n"
            f"  INSERT INTO {self.turns} (session_ref, turn, head, parent, branch, fork, first_seq, last_seq)\n"
            "  VALUES (v_ref, v_last_turn + 1, p_new_head, v_turn, v_new_branch, v_new_fork,\n"
            "          v_last_seq + 1, v_last_seq + o_stored);\n"
            "  o_head := p_new_head;\n"
            "END\n"
            "$fn$"
        )

    @property
    def append(self) -> str:
        """``($1 user, $2 chat, $3 session, $4 latest, $5 head, $6 new head, $7 ids, $8 bodies)``."""
        return (
            "SELECT o_stored, o_head, o_known FROM "
            f"{self.append_routine}($1, $2, $3, $4, $5, $6, $7::text[], $8::text[])"
        )

    def _chain(self, *, latest: bool) -> str:
        """The ``seg(session_ref, branch, upto, fork)`` CTEs of the chain ending at ``$4`` (or the latest turn).

        The session's id is a scalar subquery, a constant for the rest of the query, so the tip
        is one probe of ``(session_ref, head)`` or one backward step along ``(session_ref, turn)``;
        each fork is one lookup of ``(session_ref, turn)`` in a lateral subquery (its ``LIMIT``
        keeps the planner from turning the walk into a join over the whole turns table).
        """
        which = "ORDER BY t.turn DESC LIMIT 1" if latest else "AND t.head = $4"
        return (
            "WITH RECURSIVE tip AS (\n"
            f"  SELECT t.session_ref, t.branch, t.last_seq AS upto, t.fork FROM {self.turns} t\n"
            f"  WHERE t.session_ref = (SELECT s.id FROM {self.sessions} s\n"
            "    WHERE s.user_id = $1 AND s.chat_id = $2 AND s.session_id = $3)\n"
            f"  {which}\n"
            "), seg(session_ref, branch, upto, fork) AS (\n"
            "  SELECT * FROM tip\n"
            "  UNION ALL\n"
            "  SELECT f.session_ref, f.branch, f.last_seq, f.fork FROM seg CROSS JOIN LATERAL (\n"
            f"    SELECT t.session_ref, t.branch, t.last_seq, t.fork FROM {self.turns} t\n"
            "    WHERE t.session_ref = seg.session_ref AND t.turn = seg.fork LIMIT 1) f\n"
            ")\n"
        )

    def load_all(self, *, latest: bool) -> str:
        """Every item of the chain ending at ``$4`` (or the latest turn), oldest first.

        Each segment is one range of the primary key; the ``ORDER BY`` inside the lateral
        subquery keeps the planner from flattening it into a join that would read the whole
        session's items and drop the other branches' afterwards.
        """
        return self._chain(latest=latest) + (
            "SELECT x.seq, x.body FROM seg CROSS JOIN LATERAL (\n"
            f"  SELECT i.seq, i.body FROM {self.items} i\n"
            "  WHERE i.session_ref = seg.session_ref AND i.branch = seg.branch AND i.seq <= seg.upto\n"
            "  ORDER BY i.seq\n"
            ") x ORDER BY x.seq"
        )

    def load_latest(self, *, latest: bool) -> str:
        """The latest ``$5`` (``$4`` when ``latest``) items of the chain, newest first (the caller reverses them).

        Each segment is read backwards along the primary key with its own ``LIMIT``, so the
        query reads at most ``limit`` rows per segment whatever the size of the session.
        """
        n = "$4" if latest else "$5"
        return self._chain(latest=latest) + (
            "SELECT x.seq, x.body FROM seg CROSS JOIN LATERAL (\n"
            f"  SELECT i.seq, i.body FROM {self.items} i\n"
            "  WHERE i.session_ref = seg.session_ref AND i.branch = seg.branch AND i.seq <= seg.upto\n"
            f"  ORDER BY i.seq DESC LIMIT {n}\n"
            f") x ORDER BY x.seq DESC LIMIT {n}"
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


def _append_function_v1(n: Names) -> str:
    """Version 1's append function, as released (migration 2 drops it)."""
    return (
        f"CREATE OR REPLACE FUNCTION {n.append_routine}("
        "p_user text, p_chat text, p_session text, p_ids text[], p_bodies text[]) "
        "RETURNS integer LANGUAGE plpgsql VOLATILE AS $fn$\n"
        "DECLARE v_ref bigint; v_next bigint; v_stored integer;\n"
        "BEGIN\n"
        f"  INSERT INTO {n.sessions} AS s (user_id, chat_id, session_id) VALUES (p_user, p_chat, p_session)\n"
        "  ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()\n"
        "  RETURNING s.id INTO v_ref;\n"
        f"  SELECT coalesce(max(seq), 0) INTO v_next FROM {n.items} WHERE session_ref = v_ref;\n"
        "  WITH fresh AS (\n"
        "    SELECT t.item_id, t.body, t.ord\n"
        "    FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)\n"
        f"    WHERE NOT EXISTS (SELECT 1 FROM {n.items} i\n"
        "      WHERE i.session_ref = v_ref AND i.item_id = t.item_id)\n"
        "  ), added AS (\n"
        f"    INSERT INTO {n.items} (session_ref, seq, item_id, body)\n"
        "    SELECT v_ref, v_next + row_number() OVER (ORDER BY ord), item_id, body::json FROM fresh ORDER BY ord\n"
        "    RETURNING 1\n"
        "  )\n"
        "  SELECT count(*) INTO v_stored FROM added;\n"
        "  RETURN v_stored;\n"
        "END\n"
        "$fn$"
    )


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
                _append_function_v1(n),
            ),
        ),
        Migration(
            2,
            "conversation chains: turns and branches",
            (
                f"CREATE TABLE {n.turns} ("
                f" session_ref bigint NOT NULL REFERENCES {n.sessions} (id) ON DELETE CASCADE,"
                " turn bigint NOT NULL,"
                " head text NOT NULL,"
                " parent bigint,"
                " branch bigint NOT NULL,"
                " fork bigint,"
                " first_seq bigint NOT NULL,"
                " last_seq bigint NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                f" CONSTRAINT {n.index('turns_order')} PRIMARY KEY (session_ref, turn),"
                f" CONSTRAINT {n.index('turns_head')} UNIQUE (session_ref, head))",
                f"CREATE INDEX {n.index('turns_branch')} ON {n.turns} (session_ref, branch, turn)",
                # Every existing session becomes one linear chain: one turn holding all its items.
                f"INSERT INTO {n.turns}"
                " (session_ref, turn, head, parent, branch, fork, first_seq, last_seq, created_at)"
                " SELECT session_ref, 1, 'turn_' || replace(gen_random_uuid()::text, '-', ''), NULL, 1, NULL,"
                f" min(seq), max(seq), max(created_at) FROM {n.items} GROUP BY session_ref",
                # A constant default is stored once in the catalog (no table rewrite); old rows read 1.
                f"ALTER TABLE {n.items} ADD COLUMN branch bigint NOT NULL DEFAULT 1",
                f"ALTER TABLE {n.items} ALTER COLUMN branch DROP DEFAULT",
                f"ALTER TABLE {n.items} DROP CONSTRAINT {n.index('items_order')},"
                f" ADD CONSTRAINT {n.index('items_order')} PRIMARY KEY (session_ref, branch, seq)",
                f"ALTER TABLE {n.items} DROP CONSTRAINT {n.index('items_id')}",
                f"CREATE INDEX {n.index('items_id')} ON {n.items} (session_ref, item_id)",
                f"DROP FUNCTION IF EXISTS {n.append_routine}(text, text, text, text[], text[])",
                n.append_function,
            ),
        ),
    ]


LATEST_VERSION: Final = 2
