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
- ``<p>append(...)``: the function that appends one turn (see :meth:`Names.append_function_at`);
  version 4 replaced its body so that it looks the new ids up by id (one index probe each), version 5
  so that the common append runs fewer statements, each planned once, version 6 so that an append
  whose ids are all new to the session skips the chain checks and writes its rows in one statement.
- ``<p>responses`` (version 3): one row per response the hosting SDK stored (see ``_hosting``):
  its session and head (the turn holding its latest items), its previous response's row
  (``parent``), its history (``NULL`` when implied by the parent's chain), input and output ids,
  envelope, ``deleted``, ``conversation`` and a ``version`` bumped by every write.
  ``<p>create_response(...)`` / ``<p>update_response(...)`` write one each in one call.
- ``<p>agent_sessions`` (version 3): versioned agent-session records under ``(scope, record_id)``.

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

_GENERIC: Final = " SET plan_cache_mode = force_generic_plan"
"""Plan a function's statements once, not per call (their plans do not depend on the arguments' values)."""


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
    def responses(self) -> str:
        """The hosting SDK's responses (schema version 3)."""
        return self._q("responses")

    @property
    def agent_sessions(self) -> str:
        """Versioned agent-session records (schema version 3)."""
        return self._q("agent_sessions")

    @property
    def create_response_routine(self) -> str:
        return self._q("create_response")

    @property
    def update_response_routine(self) -> str:
        return self._q("update_response")

    @property
    def append_routine(self) -> str:
        """The qualified name of the append function."""
        return self._q("append")

    @property
    def append_batch_routine(self) -> str:
        """The qualified name of the function that appends several turns at once (schema version 4)."""
        return self._q("append_batch")

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
        """The function that appends one turn, as the latest version has it (see :meth:`append_function_at`)."""
        return self.append_function_at(LATEST_VERSION)

    def _stored_copies(self, probe: bool) -> str:
        """The ``i`` rows of ``<p>items`` holding ``t.item_id`` in the session, for the append function.

        Version 2 let the planner join them with the chain's segments as it liked; with statistics that
        underrate a session's size (a table not analysed since it grew) it scanned the chain's items
        and compared each with the id, so an append cost time in proportion to the history. Version 4
        probes ``(session_ref, item_id)`` per new id (``OFFSET 0`` keeps the subquery from being
        flattened into such a join): a few index entries, however long the chain.
        """
        if not probe:
            return (
                f"      SELECT 1 FROM {self.items} i\n"
                "      JOIN unnest(v_branches, v_uptos) AS seg(branch, upto)\n"
                "        ON i.branch = seg.branch AND i.seq <= seg.upto\n"
                "      WHERE i.session_ref = v_ref AND i.item_id = t.item_id"
            )
        return (
            f"      SELECT 1 FROM (SELECT i.branch, i.seq FROM {self.items} i\n"
            "        WHERE i.session_ref = v_ref AND i.item_id = t.item_id OFFSET 0) i\n"
            "      JOIN unnest(v_branches, v_uptos) AS seg(branch, upto)\n"
            "        ON i.branch = seg.branch AND i.seq <= seg.upto"
        )

    def append_function_at(self, version: int) -> str:
        """The function that appends one turn, as schema version ``version`` (2 or 4) creates it.

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

        Version 5 does the same work in fewer and cheaper statements: the session row is
        touched with a plain ``UPDATE`` (the upsert, whose speculative insertion costs more, runs
        only for a new session), a base whose branch has no fork is its own chain (no
        recursive query), a base that is the latest turn has no later turn on its branch (no
        probe), and the function plans its statements once (``plan_cache_mode =
        force_generic_plan``: a custom plan per call cost about 100 µs of planning on each append).

        Version 6 first asks whether any new id is in the session at all (one probe of
        ``(session_ref, item_id)`` per id). Usually none is: then no copy can lie in the chain
        and no earlier attempt of this call can have committed (its items would be there), so
        the retry check, the fork walk and the per-id chain test are skipped, and the items and
        the turn row are written by one statement. Otherwise the function goes on as version 5.
        It also reports the session row (``o_ref``) and the first ``seq`` of the turn
        (``o_first``), which the response functions used to look up again.
        """
        if version not in (2, 4, 5, 6):
            raise ValueError(f"The append function was created by schema versions 2, 4, 5 and 6, not {version}.")
        lean = version >= 5
        sieve = version >= 6
        session_row = (
            (
                f"  UPDATE {self.sessions} s SET updated_at = now()\n"
                "  WHERE s.user_id = p_user AND s.chat_id = p_chat AND s.session_id = p_session\n"
                "  RETURNING s.id INTO v_ref;\n"
                "  IF NOT FOUND THEN\n"
                f"    INSERT INTO {self.sessions} AS s (user_id, chat_id, session_id)\n"
                "    VALUES (p_user, p_chat, p_session)\n"
                "    ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()\n"
                "    RETURNING s.id INTO v_ref;\n"
                "  END IF;\n"
            )
            if lean
            else (
                f"  INSERT INTO {self.sessions} AS s (user_id, chat_id, session_id) VALUES (p_user, p_chat, p_session)\n"  # noqa: E501 (as released)
                "  ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()\n"
                "  RETURNING s.id INTO v_ref;\n"
            )
        )
        walk = (
            "    WITH RECURSIVE seg(branch, upto, fork) AS (\n"
            "      SELECT v_branch, v_upto, v_fork\n"
            "      UNION ALL\n"
            "      SELECT f.branch, f.last_seq, f.fork FROM seg CROSS JOIN LATERAL (\n"
            f"        SELECT t.branch, t.last_seq, t.fork FROM {self.turns} t\n"
            "        WHERE t.session_ref = v_ref AND t.turn = seg.fork LIMIT 1) f\n"
            "    )\n"
            "    SELECT array_agg(seg.branch), array_agg(seg.upto) INTO v_branches, v_uptos FROM seg;\n"
        )
        segments = (
            (
                "  IF v_turn IS NOT NULL AND v_fork IS NULL THEN\n"
                "    v_branches := ARRAY[v_branch]; v_uptos := ARRAY[v_upto];\n"
                "  ELSIF v_turn IS NOT NULL THEN\n"
                f"{walk}"
                "  END IF;\n"
            )
            if lean
            else f"  IF v_turn IS NOT NULL THEN\n{walk}  END IF;\n"
        )
        later = "v_turn <> v_last_turn AND EXISTS" if lean else "EXISTS"
        retry = (
            f"  SELECT t.last_seq - t.first_seq + 1 INTO o_stored FROM {self.turns} t\n"
            "  WHERE t.session_ref = v_ref AND t.head = p_new_head;\n"
            "  IF FOUND THEN\n"
            "    o_head := p_new_head; o_known := true; RETURN;\n"
            "  END IF;\n"
        )
        seen = ""
        fresh_turn = ""
        if sieve:
            retry = (
                "  IF v_seen THEN\n"
                f"    SELECT t.last_seq - t.first_seq + 1, t.first_seq INTO o_stored, o_first FROM {self.turns} t\n"
                "    WHERE t.session_ref = v_ref AND t.head = p_new_head;\n"
                "    IF FOUND THEN\n"
                "      o_head := p_new_head; o_known := true; RETURN;\n"
                "    END IF;\n"
                "  END IF;\n"
            )
            # LATERAL ... LIMIT 1: one index probe per id, never a join over the session's items.
            seen = (
                "  o_ref := v_ref;\n"
                "  v_seen := cardinality(p_ids) > 0 AND EXISTS (\n"
                "    SELECT 1 FROM unnest(p_ids) AS u(item_id) CROSS JOIN LATERAL (\n"
                f"      SELECT 1 FROM {self.items} i\n"
                "      WHERE i.session_ref = v_ref AND i.item_id = u.item_id LIMIT 1) f);\n"
            )
            nested = "".join(f"  {line}" for line in segments.splitlines(keepends=True))
            segments = f"  IF v_seen THEN\n{nested}  END IF;\n"
            fresh_turn = (
                "  IF NOT v_seen THEN\n"
                "    o_stored := coalesce(cardinality(p_ids), 0);\n"
                "    IF o_stored = 0 THEN\n"
                "      o_head := v_head; RETURN;\n"
                "    END IF;\n"
                "    WITH added AS (\n"
                f"      INSERT INTO {self.items} (session_ref, branch, seq, item_id, body)\n"
                "      SELECT v_ref, v_new_branch, v_last_seq + t.ord, t.item_id, t.body::json\n"
                "      FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)\n"
                "    )\n"
                f"    INSERT INTO {self.turns} (session_ref, turn, head, parent, branch, fork, first_seq, last_seq)\n"
                "    VALUES (v_ref, v_last_turn + 1, p_new_head, v_turn, v_new_branch, v_new_fork,\n"
                "            v_last_seq + 1, v_last_seq + o_stored);\n"
                "    o_head := p_new_head; o_first := v_last_seq + 1; RETURN;\n"
                "  END IF;\n"
            )
        return (
            f"{'CREATE' if version in (2, 6) else 'CREATE OR REPLACE'} FUNCTION {self.append_routine}("
            "p_user text, p_chat text, p_session text, p_latest boolean, p_head text, p_new_head text,"
            " p_ids text[], p_bodies text[], OUT o_stored integer, OUT o_head text, OUT o_known boolean"
            f"{', OUT o_ref bigint, OUT o_first bigint' if sieve else ''})"
            f" LANGUAGE plpgsql VOLATILE{_GENERIC if lean else ''} AS $fn$\n"
            "DECLARE\n"
            f"  v_ref bigint;{' v_seen boolean;' if sieve else ''}\n"
            "  v_last_turn bigint; v_last_seq bigint;\n"
            "  v_turn bigint; v_head text; v_branch bigint; v_fork bigint; v_upto bigint;\n"
            "  v_branches bigint[]; v_uptos bigint[];\n"
            "  v_new_branch bigint; v_new_fork bigint;\n"
            "BEGIN\n"
            f"{session_row}"
            f"{seen}"
            # 2. the retry of a call that committed
            f"{retry}"
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
            f"{segments}"
            # 5. continue the base's branch, or start one
            "  IF v_turn IS NULL THEN\n"
            "    v_new_branch := v_last_turn + 1; v_new_fork := NULL;\n"
            f"  ELSIF {later} (SELECT 1 FROM {self.turns} t\n"
            "      WHERE t.session_ref = v_ref AND t.branch = v_branch AND t.turn > v_turn) THEN\n"
            "    v_new_branch := v_last_turn + 1; v_new_fork := v_turn;\n"
            "  ELSE\n"
            "    v_new_branch := v_branch; v_new_fork := v_fork;\n"
            "  END IF;\n"
            f"{fresh_turn}"
            "  WITH fresh AS (\n"
            "    SELECT t.item_id, t.body, t.ord\n"
            "    FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)\n"
            "    WHERE v_branches IS NULL OR NOT EXISTS (\n"
            f"{self._stored_copies(version >= 4)})\n"
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
            f"  o_head := p_new_head;{' o_first := v_last_seq + 1;' if sieve else ''}\n"
            "END\n"
            "$fn$"
        )

    @property
    def append_batch_function(self) -> str:
        """The function that appends several turns in one statement (schema version 4).

        ``(users[], chats[], sessions[], latest[], heads[], new_heads[], counts[], ids[], bodies[]) ->
        (o_stored[], o_head[], o_known[])``: append ``k`` gets the ``counts[k]`` ids and bodies after
        those of the appends before it, and is exactly one call of the append function, in the
        order given; the results come back in that order. One statement, one transaction: the
        turns commit together (one WAL flush for all), or none does. Callers order the appends by
        session key, so two batches lock the sessions they share in the same order and cannot
        deadlock.
        """
        return (
            f"CREATE FUNCTION {self.append_batch_routine}("
            "p_users text[], p_chats text[], p_sessions text[], p_latest boolean[], p_heads text[],"
            " p_new_heads text[], p_counts integer[], p_ids text[], p_bodies text[],"
            " OUT o_stored integer[], OUT o_head text[], OUT o_known boolean[])"
            " LANGUAGE plpgsql VOLATILE AS $fn$\n"
            "DECLARE\n"
            "  v_first integer := 1; v_last integer; v_one record;\n"
            "BEGIN\n"
            "  o_stored := '{}'; o_head := '{}'; o_known := '{}';\n"
            "  FOR k IN 1 .. coalesce(cardinality(p_users), 0) LOOP\n"
            "    v_last := v_first + p_counts[k] - 1;\n"
            f"    SELECT * INTO v_one FROM {self.append_routine}(p_users[k], p_chats[k], p_sessions[k], p_latest[k],"
            " p_heads[k], p_new_heads[k], p_ids[v_first:v_last], p_bodies[v_first:v_last]);\n"
            "    o_stored := o_stored || v_one.o_stored;\n"
            "    o_head := o_head || v_one.o_head;\n"
            "    o_known := o_known || v_one.o_known;\n"
            "    v_first := v_last + 1;\n"
            "  END LOOP;\n"
            "END\n"
            "$fn$"
        )

    @property
    def append_batch(self) -> str:
        """``($1 users[], $2 chats[], $3 sessions[], $4 latest[], $5 heads[], $6 new heads[], $7 counts[],
        $8 ids[], $9 bodies[])``."""
        return (
            "SELECT o_stored, o_head, o_known FROM "
            f"{self.append_batch_routine}($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[],"
            " $6::text[], $7::integer[], $8::text[], $9::text[])"
        )

    def continued_response(self, last_id: str, user: str, chat: str, *, into: str = "") -> str:
        """The query for the response a history ending with ``last_id`` continues (schema version 3).

        The SDK's hosts leave ``previous_response_id`` out of the envelope they store; the history
        they pass ends with the last id of the previous response's chain. That response is the one
        whose latest turn (``head``) holds the item: the item's latest copy in the partition (one
        probe of the item-id index per copy), the turn holding it (the latest turn of its branch
        starting at or before its ``seq``: one backward probe), the response at that turn (one probe
        of ``(session_ref, head)``); the latest such response when several share the turn.
        """
        return (
            f"SELECT r.response_id{into} FROM {self.items} i\n"
            f"JOIN {self.sessions} s ON s.id = i.session_ref\n"
            "CROSS JOIN LATERAL (\n"
            f"  SELECT t.head FROM {self.turns} t\n"
            "  WHERE t.session_ref = i.session_ref AND t.branch = i.branch AND t.first_seq <= i.seq\n"
            "  ORDER BY t.turn DESC LIMIT 1) t\n"
            f"JOIN {self.responses} r ON r.session_ref = i.session_ref AND r.head = t.head\n"
            f"WHERE i.item_id = {last_id} AND s.user_id = {user} AND s.chat_id = {chat}\n"
            f"  AND r.user_id = {user} AND r.chat_id = {chat}\n"
            "ORDER BY i.created_at DESC, i.session_ref DESC, i.seq DESC, r.id DESC LIMIT 1"
        )

    def create_response_function_at(self, version: int) -> str:
        """The function that stores a new response and its items as one turn, as schema ``version`` (3 or 6) has it.

        ``(user, chat, response_id, previous, last_id, conversation, parent, parent_version, history[],
        history_len, input_ids[], output_ids[], envelope, token, new_head, ids[], bodies[]) ->
        (o_status, o_id, o_version, o_parent, o_parent_version)``. One statement, so one round
        trip that commits whole or not at all:

        1. The response's row is looked up (and locked): one that exists and is not deleted ends
           the call with ``'exists'`` (``'done'`` when its ``token`` is this call's: the retry of a
           call whose commit went through but whose reply was lost).
        2. The previous response — named by ``previous``, else the one the history continues
           (``last_id``, its last id: see :meth:`continued_response`) — is locked ``FOR SHARE``, so
           it cannot change (nor pin its continuations, see ``update_response``) until this
           commits. A history given as implied (``history`` NULL, ``history_len`` > 0) needs that
           response to be the row ``parent``, alive at ``parent_version``, the one the caller
           computed it from; else ``'stale'`` (nothing written; the caller reads the previous
           response again and retries).
        3. The items go to the previous response's session, continuing at its head; else to the
           conversation's session (the latest turn); else to a session named by the response id
           — through the append function, in this transaction.
        4. The row is inserted (or, for a deleted id created again, rewritten). Two creates of one
           id racing: the unique key fails the second, and everything of it rolls back.

        Version 6 takes the session row and the turn's first ``seq`` from the append function's
        report instead of looking both up again after it, and plans its statements once.
        """
        if version not in (3, 6):
            raise ValueError(f"The create_response function was created by schema versions 3 and 6, not {version}.")
        reported = version >= 6
        after_append = (
            (
                "    SELECT a.o_stored, a.o_head, a.o_ref, a.o_first INTO v_stored, v_new_head, v_ref, v_first\n"
                f"    FROM {self.append_routine}(v_user, v_chat, v_session, v_head IS NULL, v_head, p_new_head,"
                " p_ids, p_bodies) a;\n"
                "  ELSE\n"
                f"    SELECT s.id INTO v_ref FROM {self.sessions} s\n"
                "    WHERE s.user_id = v_user AND s.chat_id = v_chat AND s.session_id = v_session;\n"
                "  END IF;\n"
            )
            if reported
            else (
                "    SELECT a.o_stored, a.o_head INTO v_stored, v_new_head\n"
                f"    FROM {self.append_routine}(v_user, v_chat, v_session, v_head IS NULL, v_head, p_new_head,"
                " p_ids, p_bodies) a;\n"
                "  END IF;\n"
                f"  SELECT s.id INTO v_ref FROM {self.sessions} s\n"
                "  WHERE s.user_id = v_user AND s.chat_id = v_chat AND s.session_id = v_session;\n"
                "  IF v_stored > 0 THEN\n"
                f"    SELECT t.first_seq INTO v_first FROM {self.turns} t\n"
                "    WHERE t.session_ref = v_ref AND t.head = v_new_head;\n"
                "  END IF;\n"
            )
        )
        return (
            f"{'CREATE OR REPLACE' if reported else 'CREATE'} FUNCTION {self.create_response_routine}("
            "p_user text, p_chat text, p_response_id text, p_previous text, p_last_id text, p_conversation text,"
            " p_parent bigint, p_parent_version bigint, p_history text[], p_history_len integer,"
            " p_input_ids text[], p_output_ids text[], p_envelope text, p_token text,"
            " p_new_head text, p_ids text[], p_bodies text[],"
            " OUT o_status text, OUT o_id bigint, OUT o_version bigint, OUT o_parent bigint,"
            " OUT o_parent_version bigint)"
            f" LANGUAGE plpgsql VOLATILE{_GENERIC if reported else ''} AS $fn$\n"
            "DECLARE\n"
            "  v_deleted boolean; v_token text; v_previous text;\n"
            "  v_prev_id bigint; v_prev_deleted boolean; v_prev_version bigint; v_prev_ref bigint; v_prev_head text;\n"
            "  v_user text; v_chat text; v_session text; v_head text;\n"
            "  v_ref bigint; v_first bigint; v_stored integer; v_new_head text;\n"
            "BEGIN\n"
            f"  SELECT r.id, r.deleted, r.token INTO o_id, v_deleted, v_token FROM {self.responses} r\n"
            "  WHERE r.user_id = p_user AND r.chat_id = p_chat AND r.response_id = p_response_id FOR UPDATE;\n"
            "  IF FOUND AND NOT v_deleted THEN\n"
            "    o_status := CASE WHEN v_token = p_token THEN 'done' ELSE 'exists' END;\n"
            "    RETURN;\n"
            "  END IF;\n"
            "  v_previous := p_previous;\n"
            "  IF v_previous IS NULL AND p_last_id IS NOT NULL THEN\n"
            f"    {self.continued_response('p_last_id', 'p_user', 'p_chat', into=' INTO v_previous')};\n"
            "  END IF;\n"
            "  IF v_previous IS NOT NULL THEN\n"
            "    SELECT r.id, r.deleted, r.version, r.session_ref, r.head\n"
            "    INTO v_prev_id, v_prev_deleted, v_prev_version, v_prev_ref, v_prev_head\n"
            f"    FROM {self.responses} r\n"
            "    WHERE r.user_id = p_user AND r.chat_id = p_chat AND r.response_id = v_previous FOR SHARE;\n"
            "  END IF;\n"
            "  IF v_prev_id IS NOT NULL AND NOT v_prev_deleted THEN\n"
            "    o_parent := v_prev_id; o_parent_version := v_prev_version;\n"
            "  END IF;\n"
            "  IF p_history IS NULL AND p_history_len > 0\n"
            "     AND (o_parent IS NULL OR o_parent IS DISTINCT FROM p_parent\n"
            "          OR o_parent_version IS DISTINCT FROM p_parent_version) THEN\n"
            "    o_status := 'stale'; RETURN;\n"
            "  END IF;\n"
            "  IF v_prev_ref IS NOT NULL THEN\n"
            "    SELECT s.user_id, s.chat_id, s.session_id INTO v_user, v_chat, v_session\n"
            f"    FROM {self.sessions} s WHERE s.id = v_prev_ref;\n"
            "    v_head := v_prev_head;\n"
            "  END IF;\n"
            "  IF v_session IS NULL THEN\n"
            "    v_user := p_user; v_chat := p_chat; v_session := coalesce(p_conversation, p_response_id);\n"
            "    v_head := NULL;\n"
            "  END IF;\n"
            "  IF cardinality(p_ids) > 0 THEN\n"
            f"{after_append}"
            "  v_head := coalesce(v_new_head, v_head);\n"
            "  IF o_id IS NULL THEN\n"
            f"    INSERT INTO {self.responses} (user_id, chat_id, response_id, session_ref, head, first_seq, parent,"
            " history, history_len, input_ids, output_ids, envelope, conversation, token)\n"
            "    VALUES (p_user, p_chat, p_response_id, v_ref, v_head, v_first, o_parent, p_history, p_history_len,"
            " p_input_ids, p_output_ids, p_envelope::json, p_conversation, p_token)\n"
            "    RETURNING id, version INTO o_id, o_version;\n"
            "  ELSE\n"
            f"    UPDATE {self.responses} SET session_ref = v_ref, head = v_head, first_seq = v_first,"
            " parent = o_parent, history = p_history, history_len = p_history_len, input_ids = p_input_ids,"
            " output_ids = p_output_ids, envelope = p_envelope::json, conversation = p_conversation,"
            " deleted = false, token = p_token, version = version + 1, updated_at = now()\n"
            "    WHERE id = o_id RETURNING version INTO o_version;\n"
            "  END IF;\n"
            "  o_status := 'ok';\n"
            "END\n"
            "$fn$"
        )

    def update_response_function_at(self, version: int) -> str:
        """The function that replaces a response's envelope and outputs, as schema ``version`` (3 or 6) has it.

        ``(user, chat, response_id, envelope, output_ids[], new_head, ids[], bodies[]) ->
        (o_status, o_id, o_version)``. The row is locked; ``'missing'`` when it is absent or
        deleted. Outputs that change while responses continuing this one keep their history
        implied (``history`` NULL: the end of this response's chain) would change those
        histories: the call returns ``'pin'`` and writes nothing, and the caller writes those
        histories out (``pin``) and calls again in one transaction. Otherwise items already
        stored for the response are rewritten in place, new ones are appended as a turn after
        the response's head, and the row gets the envelope, the output ids and a new version.

        Version 6 takes the session row and the new turn's first ``seq`` from the append
        function's report, and plans its statements once.
        """
        if version not in (3, 6):
            raise ValueError(f"The update_response function was created by schema versions 3 and 6, not {version}.")
        reported = version >= 6
        after_append = (
            (
                "    SELECT a.o_stored, a.o_head, a.o_ref, a.o_first\n"
                "    INTO v_stored, v_new_head, v_new_ref, v_new_first\n"
                f"    FROM {self.append_routine}(v_user, v_chat, v_session, v_head IS NULL, v_head, p_new_head,"
                " v_ids, v_bodies) a;\n"
                "    IF v_stored > 0 THEN\n"
                "      v_head := v_new_head;\n"
                "      IF v_ref IS NULL OR v_first IS NULL THEN\n"
                "        v_ref := v_new_ref; v_first := v_new_first;\n"
                "      END IF;\n"
                "    END IF;\n"
            )
            if reported
            else "    SELECT a.o_stored, a.o_head INTO v_stored, v_new_head\n"
            f"    FROM {self.append_routine}(v_user, v_chat, v_session, v_head IS NULL, v_head, p_new_head,"
            " v_ids, v_bodies) a;\n"
            "    IF v_stored > 0 THEN\n"
            "      v_head := v_new_head;\n"
            "      IF v_ref IS NULL OR v_first IS NULL THEN\n"
            f"        SELECT s.id INTO v_ref FROM {self.sessions} s\n"
            "        WHERE s.user_id = v_user AND s.chat_id = v_chat AND s.session_id = v_session;\n"
            f"        SELECT t.first_seq INTO v_first FROM {self.turns} t"
            " WHERE t.session_ref = v_ref AND t.head = v_head;\n"
            "      END IF;\n"
            "    END IF;\n"
        )
        return (
            f"{'CREATE OR REPLACE' if reported else 'CREATE'} FUNCTION {self.update_response_routine}("
            "p_user text, p_chat text, p_response_id text, p_envelope text, p_output_ids text[],"
            " p_new_head text, p_ids text[], p_bodies text[],"
            " OUT o_status text, OUT o_id bigint, OUT o_version bigint)"
            f" LANGUAGE plpgsql VOLATILE{_GENERIC if reported else ''} AS $fn$\n"
            "DECLARE\n"
            "  v_deleted boolean; v_ref bigint; v_head text; v_first bigint;\n"
            "  v_inputs text[]; v_outputs text[]; v_conversation text;\n"
            "  v_user text; v_chat text; v_session text; v_ids text[]; v_bodies text[];\n"
            "  v_stored integer; v_new_head text;\n"
            f"{'  v_new_ref bigint; v_new_first bigint;' + chr(10) if reported else ''}"
            "BEGIN\n"
            "  SELECT r.id, r.deleted, r.session_ref, r.head, r.first_seq, r.input_ids, r.output_ids, r.conversation\n"
            "  INTO o_id, v_deleted, v_ref, v_head, v_first, v_inputs, v_outputs, v_conversation\n"
            f"  FROM {self.responses} r\n"
            "  WHERE r.user_id = p_user AND r.chat_id = p_chat AND r.response_id = p_response_id FOR UPDATE;\n"
            "  IF NOT FOUND OR v_deleted THEN\n"
            "    o_status := 'missing'; o_id := NULL; RETURN;\n"
            "  END IF;\n"
            "  IF v_outputs IS DISTINCT FROM p_output_ids AND EXISTS (\n"
            f"      SELECT 1 FROM {self.responses} c WHERE c.parent = o_id AND c.history IS NULL AND c.history_len > 0"
            " AND NOT c.deleted)"
            " THEN\n"
            "    o_status := 'pin'; RETURN;\n"
            "  END IF;\n"
            "  IF v_ref IS NOT NULL THEN\n"
            f"    UPDATE {self.items} i SET body = u.body::json\n"
            "    FROM unnest(p_ids, p_bodies) AS u(item_id, body)\n"
            "    WHERE i.session_ref = v_ref AND i.item_id = u.item_id AND i.seq >= coalesce(v_first, 0)\n"
            "      AND (u.item_id = ANY(v_inputs) OR u.item_id = ANY(v_outputs));\n"
            "  END IF;\n"
            "  SELECT array_agg(u.item_id ORDER BY u.ord), array_agg(u.body ORDER BY u.ord) INTO v_ids, v_bodies\n"
            "  FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS u(item_id, body, ord)\n"
            "  WHERE NOT (u.item_id = ANY(v_inputs) OR u.item_id = ANY(v_outputs));\n"
            "  IF v_ids IS NOT NULL THEN\n"
            "    IF v_ref IS NOT NULL THEN\n"
            "      SELECT s.user_id, s.chat_id, s.session_id INTO v_user, v_chat, v_session\n"
            f"      FROM {self.sessions} s WHERE s.id = v_ref;\n"
            "    ELSE\n"
            "      v_user := p_user; v_chat := p_chat; v_session := coalesce(v_conversation, p_response_id);\n"
            "    END IF;\n"
            f"{after_append}"
            "  END IF;\n"
            f"  UPDATE {self.responses} SET envelope = p_envelope::json, output_ids = p_output_ids,"
            " session_ref = v_ref, head = v_head, first_seq = v_first, version = version + 1, updated_at = now()\n"
            "  WHERE id = o_id RETURNING version INTO o_version;\n"
            "  o_status := 'ok';\n"
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

    def load_after(self, *, latest: bool) -> str:
        """``(tip, since, seq, body)`` rows: what the chain ending at ``$5`` (or the latest turn) holds after ``$4``.

        ``tip`` is the head of the chain's tip (``NULL``: an empty chain). ``since`` is the
        ``last_seq`` of the turn ``$4`` when it lies on the chain (one of its segments reaches it),
        else ``NULL`` and the rows are the whole chain: the chain's items come in ``seq`` order, so
        what follows a turn of the chain is what lies above its ``last_seq``. One row with ``NULL``
        ``seq`` when nothing follows.
        """
        which = "ORDER BY t.turn DESC LIMIT 1" if latest else "AND t.head = $5"
        return (
            "WITH RECURSIVE tip AS (\n"
            f"  SELECT t.session_ref, t.branch, t.last_seq AS upto, t.fork, t.head FROM {self.turns} t\n"
            f"  WHERE t.session_ref = (SELECT s.id FROM {self.sessions} s\n"
            "    WHERE s.user_id = $1 AND s.chat_id = $2 AND s.session_id = $3)\n"
            f"  {which}\n"
            "), seg(session_ref, branch, upto, fork) AS (\n"
            "  SELECT session_ref, branch, upto, fork FROM tip\n"
            "  UNION ALL\n"
            "  SELECT f.session_ref, f.branch, f.last_seq, f.fork FROM seg CROSS JOIN LATERAL (\n"
            f"    SELECT t.session_ref, t.branch, t.last_seq, t.fork FROM {self.turns} t\n"
            "    WHERE t.session_ref = seg.session_ref AND t.turn = seg.fork LIMIT 1) f\n"
            "), since AS (\n"
            f"  SELECT b.last_seq FROM tip JOIN {self.turns} b ON b.session_ref = tip.session_ref AND b.head = $4\n"
            "  WHERE EXISTS (SELECT 1 FROM seg WHERE seg.branch = b.branch AND seg.upto >= b.last_seq)\n"
            ")\n"
            "SELECT (SELECT head FROM tip) AS tip, (SELECT last_seq FROM since) AS since, x.seq, x.body\n"
            "FROM (SELECT 1) AS one LEFT JOIN LATERAL (\n"
            "  SELECT y.seq, y.body FROM seg CROSS JOIN LATERAL (\n"
            f"    SELECT i.seq, i.body FROM {self.items} i\n"
            "    WHERE i.session_ref = seg.session_ref AND i.branch = seg.branch AND i.seq <= seg.upto\n"
            "      AND i.seq > coalesce((SELECT last_seq FROM since), 0)\n"
            "    ORDER BY i.seq\n"
            "  ) y\n"
            ") x ON true ORDER BY x.seq"
        )

    @property
    def delete_session(self) -> str:
        return (
            f"DELETE FROM {self.sessions} WHERE user_id = $1 AND chat_id = $2 AND session_id = $3 "
            f"RETURNING EXISTS (SELECT 1 FROM {self.items} i WHERE i.session_ref = id)"
        )

    def list_sessions(self, *, by_user: bool, by_chat: bool) -> str:
        """A page of ``(user_id, chat_id, session_id, updated_at)`` of the sessions holding items, after the
        cursor ``($1, $2, $3)``, in key order (``updated_at``: the last append, for retention).

        ``$4`` is the page size; ``$5`` / ``$6`` are the user / chat filters when given.
        """
        where = ["(s.user_id, s.chat_id, s.session_id) > ($1, $2, $3)"]
        if by_user:
            where.append("s.user_id = $5")
        if by_chat:
            where.append(f"s.chat_id = ${6 if by_user else 5}")
        where.append(f"EXISTS (SELECT 1 FROM {self.items} i WHERE i.session_ref = s.id)")
        return (
            f"SELECT s.user_id, s.chat_id, s.session_id, s.updated_at FROM {self.sessions} s "
            f"WHERE {' AND '.join(where)} "
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
                n.append_function_at(2),
            ),
        ),
        Migration(
            3,
            "the hosting SDK's stores: responses and agent sessions",
            (
                f"CREATE TABLE {n.responses} ("
                " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " user_id text NOT NULL,"
                " chat_id text NOT NULL,"
                " response_id text NOT NULL,"
                f" session_ref bigint REFERENCES {n.sessions} (id) ON DELETE SET NULL,"
                " head text,"
                " first_seq bigint,"
                f" parent bigint REFERENCES {n.responses} (id) ON DELETE SET NULL,"
                " history text[],"
                " history_len integer NOT NULL,"
                " input_ids text[] NOT NULL,"
                " output_ids text[] NOT NULL,"
                " envelope json,"
                " deleted boolean NOT NULL DEFAULT false,"
                " conversation text,"
                " token text,"
                " version bigint NOT NULL DEFAULT 1,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " updated_at timestamptz NOT NULL DEFAULT now(),"
                f" CONSTRAINT {n.index('responses_key')} UNIQUE (user_id, chat_id, response_id))",
                f"CREATE INDEX {n.index('responses_parent')} ON {n.responses} (parent) WHERE parent IS NOT NULL",
                f"CREATE INDEX {n.index('responses_conversation')} ON {n.responses}"
                " (user_id, chat_id, conversation, id) WHERE conversation IS NOT NULL",
                # The response at a turn (finding the one a history continues); it also spares a full
                # scan when deleting a session (af-history delete) sets its responses' session_ref to NULL.
                f"CREATE INDEX {n.index('responses_turn')} ON {n.responses} (session_ref, head)"
                " WHERE session_ref IS NOT NULL",
                f"CREATE INDEX {n.index('items_item')} ON {n.items} (item_id)",
                f"CREATE TABLE {n.agent_sessions} ("
                " scope text NOT NULL,"
                " record_id text NOT NULL,"
                " value json NOT NULL,"
                " version bigint NOT NULL,"
                " token text,"
                " updated_at timestamptz NOT NULL DEFAULT now(),"
                f" CONSTRAINT {n.index('agent_sessions_key')} PRIMARY KEY (scope, record_id))",
                n.create_response_function_at(3),
                n.update_response_function_at(3),
            ),
        ),
        Migration(
            4,
            "appends: new ids looked up by id, not by reading the chain; several turns in one statement",
            (n.append_function_at(4), n.append_batch_function),
        ),
        Migration(
            5,
            "appends and responses: statements planned once; fewer statements on the common path",
            (
                n.append_function_at(5),
                *(
                    f"ALTER FUNCTION {routine}{_GENERIC}"
                    for routine in (n.append_batch_routine, n.create_response_routine, n.update_response_routine)
                ),
            ),
        ),
        Migration(
            6,
            "appends: new ids skip the chain checks; the append reports its session row and first seq",
            (
                # New OUT columns change the function's row type: CREATE OR REPLACE cannot.
                f"DROP FUNCTION {n.append_routine}(text, text, text, boolean, text, text, text[], text[])",
                n.append_function_at(6),
                n.create_response_function_at(6),
                n.update_response_function_at(6),
            ),
        ),
    ]


LATEST_VERSION: Final = 6
