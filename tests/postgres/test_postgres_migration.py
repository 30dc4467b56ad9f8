"""Upgrading tables written by version 1 of the schema (before conversation chains), in place."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from agent_framework_history import ALL, AppendResult, SchemaVersionError, SessionKey
from agent_framework_history.backend import dumps_item
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_postgres import LATEST_VERSION, Names, open_postgres_store

# The layout of schema version 1 exactly as that release created it (prefix af_history_).
V1_DDL = """
CREATE SCHEMA "{s}";
CREATE TABLE "{s}"."af_history_schema_version" (
  version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE "{s}"."af_history_sessions" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id text NOT NULL,
  chat_id text NOT NULL,
  session_id text NOT NULL CHECK (session_id <> ''),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "af_history_sessions_key" UNIQUE (user_id, chat_id, session_id));
CREATE TABLE "{s}"."af_history_items" (
  session_ref bigint NOT NULL REFERENCES "{s}"."af_history_sessions" (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  item_id text NOT NULL,
  body json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "af_history_items_order" PRIMARY KEY (session_ref, seq),
  CONSTRAINT "af_history_items_id" UNIQUE (session_ref, item_id));
CREATE OR REPLACE FUNCTION "{s}"."af_history_append"(
  p_user text, p_chat text, p_session text, p_ids text[], p_bodies text[])
RETURNS integer LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE v_ref bigint; v_next bigint; v_stored integer;
BEGIN
  INSERT INTO "{s}"."af_history_sessions" AS s (user_id, chat_id, session_id) VALUES (p_user, p_chat, p_session)
  ON CONFLICT (user_id, chat_id, session_id) DO UPDATE SET updated_at = now()
  RETURNING s.id INTO v_ref;
  SELECT coalesce(max(seq), 0) INTO v_next FROM "{s}"."af_history_items" WHERE session_ref = v_ref;
  WITH fresh AS (
    SELECT t.item_id, t.body, t.ord
    FROM unnest(p_ids, p_bodies) WITH ORDINALITY AS t(item_id, body, ord)
    WHERE NOT EXISTS (SELECT 1 FROM "{s}"."af_history_items" i
      WHERE i.session_ref = v_ref AND i.item_id = t.item_id)
  ), added AS (
    INSERT INTO "{s}"."af_history_items" (session_ref, seq, item_id, body)
    SELECT v_ref, v_next + row_number() OVER (ORDER BY ord), item_id, body::json FROM fresh ORDER BY ord
    RETURNING 1
  )
  SELECT count(*) INTO v_stored FROM added;
  RETURN v_stored;
END
$fn$;
INSERT INTO "{s}"."af_history_schema_version" (version, description) VALUES (1, 'sessions and items');
"""


async def _v1_append(admin: asyncpg.Connection[Any], schema: str, key: SessionKey, items: list[dict[str, Any]]) -> int:
    stored = await admin.fetchval(
        f'SELECT "{schema}"."af_history_append"($1, $2, $3, $4::text[], $5::text[])',
        key.user or "",
        key.chat or "",
        key.session_id,
        [i["id"] for i in items],
        [dumps_item(i) for i in items],
    )
    return int(stored)


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


PLAIN = SessionKey("plain")
PARTITIONED = SessionKey("s", user="alice", chat="c")
TRIMMED = SessionKey("trimmed")
EMPTIED = SessionKey("emptied")


async def _write_v1(admin: asyncpg.Connection[Any], schema: str) -> None:
    await admin.execute(V1_DDL.format(s=schema))
    for n in range(3):
        assert await _v1_append(admin, schema, PLAIN, make_turn(n)) == 2
    await _v1_append(admin, schema, PARTITIONED, [make_item("p", "alice's item \u0000 with NUL")])
    for n in range(3):
        await _v1_append(admin, schema, TRIMMED, make_turn(n))
    await _v1_append(admin, schema, EMPTIED, [make_item("gone")])
    # Retention ran: the oldest two items of one session are gone, all of another's.
    await admin.execute(
        f'DELETE FROM "{schema}"."af_history_items" i USING "{schema}"."af_history_sessions" s'
        " WHERE s.id = i.session_ref AND ((s.session_id = 'trimmed' AND i.seq <= 2) OR s.session_id = 'emptied')"
    )


@pytest.mark.asyncio
async def test_version_1_tables_upgrade_in_place_and_lose_nothing(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    await _write_v1(admin, schema)
    async with open_postgres_store(dsn, schema=schema) as store:
        await store.connect()
        versions = await admin.fetch(f"SELECT version FROM {store.names.version_table} ORDER BY version")
        assert [r["version"] for r in versions] == list(range(1, LATEST_VERSION + 1))
        assert LATEST_VERSION == 6

        # Every item loads, in order, with every kind of load.
        plain = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        assert _ids(await store.load(PLAIN)) == plain
        assert _ids(await store.load(PLAIN, limit=3)) == plain[-3:]
        [item] = await store.load(PARTITIONED)
        assert item == make_item("p", "alice's item \u0000 with NUL")
        assert _ids(await store.load(TRIMMED)) == ["msg_1u", "msg_1a", "msg_2u", "msg_2a"]
        assert await store.load(EMPTIED) == []
        assert {k async for k in store.list_sessions(user=ALL, chat=ALL)} == {PLAIN, PARTITIONED, TRIMMED}

        # Each session became one turn: its head is what a replay of stored items continues.
        replay = await store.append(PLAIN, make_turn(2))
        assert replay.stored == 0 and replay.head is not None and replay.head.startswith("turn_")
        assert _ids(await store.load(PLAIN, head=replay.head)) == plain

        # Appends continue the chain (and the numbering), forks work from the migrated turn.
        nxt = await store.append(PLAIN, make_turn(3))
        assert nxt.stored == 2 and nxt.head not in (None, replay.head)
        assert _ids(await store.load(PLAIN)) == [*plain, "msg_3u", "msg_3a"]
        fork = await store.append(PLAIN, make_turn(9), head=replay.head)
        assert _ids(await store.load(PLAIN, head=fork.head)) == [*plain, "msg_9u", "msg_9a"]
        assert _ids(await store.load(PLAIN, head=nxt.head)) == [*plain, "msg_3u", "msg_3a"]
        seqs = await admin.fetch(
            f"SELECT i.seq FROM {store.names.items} i JOIN {store.names.sessions} s ON s.id = i.session_ref"
            " WHERE s.session_id = 'plain' ORDER BY i.seq"
        )
        assert [r["seq"] for r in seqs] == list(range(1, 11))
        assert (await store.append(TRIMMED, make_turn(3))).stored == 2
        assert _ids(await store.load(TRIMMED, limit=3)) == ["msg_2a", "msg_3u", "msg_3a"]
        assert (await store.append(EMPTIED, [make_item("gone")])).stored == 1
        assert _ids(await store.load(EMPTIED)) == ["msg_gone"]

        # Version 1's function is gone; only the chain-aware one is left.
        signatures = await admin.fetch(
            "SELECT pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'af_history_append'",
            schema,
        )
        assert len(signatures) == 1 and "p_new_head" in signatures[0]["args"]

    # A version newer than this library is still refused after the upgrade.
    await admin.execute(
        f"INSERT INTO \"{schema}\".af_history_schema_version (version, description) VALUES ($1, 'future')",
        LATEST_VERSION + 1,
    )
    newer = open_postgres_store(dsn, schema=schema)
    with pytest.raises(SchemaVersionError, match=rf"at version {LATEST_VERSION + 1}.*upgrade it"):
        await newer.connect()
    await newer.aclose()


@pytest.mark.asyncio
async def test_replicas_upgrading_version_1_at_once_migrate_it_once(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    await _write_v1(admin, schema)
    stores = [open_postgres_store(dsn, schema=schema, pool_min_size=1, pool_max_size=1) for _ in range(5)]
    try:
        await asyncio.gather(*(store.connect() for store in stores))
        turns = await admin.fetchval(f'SELECT count(*) FROM "{schema}".af_history_turns')
        assert turns == 3  # one per session holding items, not one per replica
        results = await asyncio.gather(*(s.append(PLAIN, make_turn(10 + n)) for n, s in enumerate(stores)))
        assert all(r.stored == 2 for r in results)
        loaded = _ids(await stores[0].load(PLAIN))
        assert loaded[:6] == [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        assert sorted(loaded[6:]) == sorted(f"msg_{10 + n}{r}" for n in range(5) for r in "ua")
    finally:
        for store in stores:
            await store.aclose()


async def _functions_as_of(admin: asyncpg.Connection[Any], names: Names, version: int) -> None:
    """Put back the functions as schema ``version`` (3, 4 or 5) had them, and its version rows."""
    # Version 6 gave the append function more OUT columns: only a drop takes them away.
    await admin.execute(f"DROP FUNCTION {names.append_routine}")
    await admin.execute(names.append_function_at(max(v for v in (2, 4, 5) if v <= version)))
    for body in (names.create_response_function_at(3), names.update_response_function_at(3)):
        await admin.execute(body.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    if version < 4:
        await admin.execute(f"DROP FUNCTION {names.append_batch_routine}")
    plans = "SET plan_cache_mode = force_generic_plan" if version >= 5 else "RESET plan_cache_mode"
    for routine in (names.create_response_routine, names.update_response_routine):
        await admin.execute(f"ALTER FUNCTION {routine} {plans}")
    if version >= 4:
        await admin.execute(f"ALTER FUNCTION {names.append_batch_routine} {plans}")
    await admin.execute(f"DELETE FROM {names.version_table} WHERE version > $1", version)


async def _append_source(admin: asyncpg.Connection[Any], schema: str) -> str:
    source: str = await admin.fetchval(
        "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = $1 AND p.proname = 'af_history_append'",
        schema,
    )
    return source


@pytest.mark.asyncio
async def test_version_3_tables_get_the_version_4_append_functions_and_lose_nothing(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    """Version 4 replaces the append function's body and adds the batch one; chains continue and fork as before."""
    async with open_postgres_store(dsn, schema=schema) as store:
        names = store.names
        heads = [(await store.append(PLAIN, make_turn(n))).head for n in range(3)]
    # Back to version 3: its append function (version 2's body), its version rows.
    await _functions_as_of(admin, names, 3)
    assert "OFFSET 0" not in await _append_source(admin, schema)

    async with open_postgres_store(dsn, schema=schema) as store:
        await store.connect()
        versions = await admin.fetch(f"SELECT version FROM {names.version_table} ORDER BY version")
        assert [r["version"] for r in versions] == [1, 2, 3, 4, 5, 6] == list(range(1, LATEST_VERSION + 1))
        assert "OFFSET 0" in await _append_source(admin, schema)
        assert await admin.fetchval("SELECT to_regproc($1) IS NOT NULL", names.append_batch_routine)
        plain = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        assert _ids(await store.load(PLAIN)) == plain
        # Ids already in the chain are skipped; the same ids on a fork from before them are stored again.
        replay = await store.append(PLAIN, [*make_turn(2), *make_turn(3)])
        assert replay.stored == 2
        assert _ids(await store.load(PLAIN)) == [*plain, "msg_3u", "msg_3a"]
        fork = await store.append(PLAIN, make_turn(2), head=heads[1])
        assert fork.stored == 2
        assert _ids(await store.load(PLAIN, head=fork.head)) == plain
        assert _ids(await store.load(PLAIN, head=heads[1])) == plain[:4]


async def _plan_settings(admin: asyncpg.Connection[Any], schema: str) -> dict[str, list[str] | None]:
    rows = await admin.fetch(
        "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = $1 AND p.proname LIKE 'af_history_%'",
        schema,
    )
    return {row["proname"]: row["proconfig"] for row in rows}


async def _three_turns_and_a_fork(dsn: str, schema: str) -> tuple[Names, list[str | None], AppendResult]:
    """Tables at the latest version holding three turns of PLAIN and a fork from the first; their heads."""
    async with open_postgres_store(dsn, schema=schema) as store:
        heads = [(await store.append(PLAIN, make_turn(n))).head for n in range(3)]
        fork = await store.append(PLAIN, make_turn(9), head=heads[0])
        return store.names, heads, fork


@pytest.mark.asyncio
async def test_version_4_tables_get_the_version_5_functions_and_lose_nothing(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    """Version 5 plans every function's statements once and gives the append function a leaner body."""
    names, heads, fork = await _three_turns_and_a_fork(dsn, schema)
    generic = ["plan_cache_mode=force_generic_plan"]
    functions = [
        "af_history_append",
        "af_history_append_batch",
        "af_history_create_response",
        "af_history_update_response",
    ]
    assert await _plan_settings(admin, schema) == dict.fromkeys(functions, generic)
    # Back to version 4: its append function, no plan settings, its version rows.
    await _functions_as_of(admin, names, 4)
    assert await _plan_settings(admin, schema) == dict.fromkeys(functions)
    assert "SET updated_at = now()\n  WHERE" not in await _append_source(admin, schema)

    async with open_postgres_store(dsn, schema=schema) as store:
        await store.connect()
        versions = await admin.fetch(f"SELECT version FROM {names.version_table} ORDER BY version")
        assert [r["version"] for r in versions] == [1, 2, 3, 4, 5, 6] == list(range(1, LATEST_VERSION + 1))
        assert await _plan_settings(admin, schema) == dict.fromkeys(functions, generic)
        assert "SET updated_at = now()\n  WHERE" in await _append_source(admin, schema)
        plain = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        forked = ["msg_0u", "msg_0a", "msg_9u", "msg_9a"]
        assert _ids(await store.load(PLAIN, head=heads[2])) == plain
        assert _ids(await store.load(PLAIN)) == forked  # the fork is the latest turn
        # The latest turn continues, ids already in its chain skipped (a linear branch: no fork walk).
        again = await store.append(PLAIN, [*make_turn(9), *make_turn(3)])
        assert again.stored == 2
        assert _ids(await store.load(PLAIN)) == [*forked, "msg_3u", "msg_3a"]
        # A branch's earlier tip continues its own chain; ids of the other branch do not count.
        tip = await store.append(PLAIN, [*make_turn(2), *make_turn(3)], head=heads[2])
        assert tip.stored == 2
        assert _ids(await store.load(PLAIN, head=tip.head)) == [*plain, "msg_3u", "msg_3a"]
        # A fork of the fork: the walk crosses both branches.
        deeper = await store.append(PLAIN, [*make_turn(0), *make_turn(9), *make_turn(4)], head=fork.head)
        assert deeper.stored == 2
        assert _ids(await store.load(PLAIN, head=deeper.head)) == [*forked, "msg_4u", "msg_4a"]


@pytest.mark.asyncio
async def test_version_5_tables_get_the_version_6_functions_and_lose_nothing(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    """Version 6 sends a turn of new ids past the chain checks; ids already stored still take them."""
    names, heads, fork = await _three_turns_and_a_fork(dsn, schema)
    await _functions_as_of(admin, names, 5)
    assert "v_seen" not in await _append_source(admin, schema)

    async with open_postgres_store(dsn, schema=schema) as store:
        await store.connect()
        versions = await admin.fetch(f"SELECT version FROM {names.version_table} ORDER BY version")
        assert [r["version"] for r in versions] == list(range(1, 7))
        assert "v_seen" in await _append_source(admin, schema)
        plain = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        forked = ["msg_0u", "msg_0a", "msg_9u", "msg_9a"]
        assert _ids(await store.load(PLAIN, head=heads[2])) == plain
        # New ids only: one statement writes the items and the turn, numbered after the session's last.
        fresh = await store.append(PLAIN, make_turn(5), head=heads[2])
        assert fresh.stored == 2
        assert _ids(await store.load(PLAIN, head=fresh.head)) == [*plain, "msg_5u", "msg_5a"]
        assert _ids(await store.load(PLAIN, head=fork.head)) == forked
        # An id stored on another branch only: the chain checks run, and it is stored again here.
        mixed = await store.append(PLAIN, [*make_turn(9), *make_turn(6)], head=fresh.head)
        assert mixed.stored == 4
        assert _ids(await store.load(PLAIN, head=mixed.head)) == [
            *plain,
            *("msg_5u", "msg_5a", "msg_9u", "msg_9a", "msg_6u", "msg_6a"),
        ]
        # Ids already in this chain are skipped.
        again = await store.append(PLAIN, [*make_turn(6), *make_turn(7)], head=mixed.head)
        assert again.stored == 2
        # The report of the append function: the session row and the turn's first seq.
        row = await admin.fetchrow(
            f"SELECT * FROM {names.append_routine}('', '', $1, true, NULL, 'turn_' || md5('x'), $2, $3)",
            PLAIN.session_id,
            ["msg_8u"],
            [dumps_item(make_item("8u"))],
        )
        assert row is not None
        ref, first = await admin.fetchrow(
            f"SELECT t.session_ref, t.first_seq FROM {names.turns} t WHERE t.head = 'turn_' || md5('x')"
        )
        assert (row["o_stored"], row["o_ref"], row["o_first"]) == (1, ref, first)
