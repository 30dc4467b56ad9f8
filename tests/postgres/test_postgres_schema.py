"""Tables, migrations (also when replicas start together), options and indexes, on the real server."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest

from agent_framework_history import (
    ALL,
    CorruptDataError,
    HistoryStoreError,
    SchemaVersionError,
    SessionKey,
    open_store,
)
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_postgres import (
    LATEST_VERSION,
    MAX_INDEXED_BYTES,
    PostgresHistoryStore,
    open_postgres_store,
)

from .conftest import new_schema_name


async def _versions(admin: asyncpg.Connection[Any], store: PostgresHistoryStore) -> list[int]:
    rows = await admin.fetch(f"SELECT version FROM {store.names.version_table} ORDER BY version")
    return [row["version"] for row in rows]


@pytest.mark.asyncio
async def test_open_creates_schema_and_tables_at_latest_version(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    assert not await admin.fetchval("SELECT to_regclass($1) IS NOT NULL", pg_store.names.items)
    await pg_store.connect()
    for table in (pg_store.names.sessions, pg_store.names.items, pg_store.names.version_table):
        assert await admin.fetchval("SELECT to_regclass($1) IS NOT NULL", table), table
    assert await _versions(admin, pg_store) == list(range(1, LATEST_VERSION + 1))


@pytest.mark.asyncio
async def test_reopening_applies_no_migration_and_keeps_data(dsn: str, schema: str) -> None:
    key = SessionKey("s", user="u")
    async with open_postgres_store(dsn, schema=schema) as first:
        await first.append(key, make_turn(0))
    async with open_postgres_store(dsn, schema=schema) as second:
        assert [i["id"] for i in await second.load(key)] == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_replicas_migrating_at_once_all_open_one_schema(dsn: str, admin: asyncpg.Connection[Any]) -> None:
    """Several stores open the same fresh schema at the same moment, three times over."""
    for _ in range(3):
        schema = new_schema_name()
        stores = [open_postgres_store(dsn, schema=schema, pool_min_size=1, pool_max_size=1) for _ in range(6)]
        try:
            await asyncio.gather(*(store.connect() for store in stores))
            await asyncio.gather(*(store.append(SessionKey(f"s{n}"), [make_item(n)]) for n, store in enumerate(stores)))
            assert await _versions(admin, stores[0]) == list(range(1, LATEST_VERSION + 1))
            assert {key.session_id async for key in stores[0].list_sessions(user=ALL, chat=ALL)} == {
                f"s{n}" for n in range(6)
            }
        finally:
            for store in stores:
                await store.aclose()
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.asyncio
async def test_tables_newer_than_this_library_are_refused(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any], dsn: str, schema: str
) -> None:
    await pg_store.connect()
    await admin.execute(
        f"INSERT INTO {pg_store.names.version_table} (version, description) VALUES ($1, 'from the future')",
        LATEST_VERSION + 1,
    )
    newer = open_postgres_store(dsn, schema=schema)
    with pytest.raises(SchemaVersionError, match=rf"at version {LATEST_VERSION + 1}.*upgrade it"):
        await newer.load(SessionKey("s"))
    await newer.aclose()


@pytest.mark.asyncio
async def test_table_prefixes_keep_stores_in_one_schema_apart(dsn: str, schema: str) -> None:
    key = SessionKey("s")
    async with (
        open_postgres_store(dsn, schema=schema, table_prefix="a_") as a,
        open_postgres_store(dsn, schema=schema, table_prefix="") as b,
    ):
        await a.append(key, [make_item("a")])
        await b.append(key, [make_item("b")])
        assert [i["id"] for i in await a.load(key)] == ["msg_a"]
        assert [i["id"] for i in await b.load(key)] == ["msg_b"]
        assert b.names.items == f'"{schema}"."items"'


@pytest.mark.asyncio
async def test_anonymous_partition_is_stored_as_empty_text(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    await pg_store.append(SessionKey("s", chat="c"), [make_item(1)])
    row = await admin.fetchrow(f"SELECT user_id, chat_id, session_id FROM {pg_store.names.sessions}")
    assert tuple(row) == ("", "c", "s")


@pytest.mark.asyncio
async def test_seq_counts_one_two_three_within_each_session(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    key = SessionKey("s")
    for n in range(3):
        await pg_store.append(key, make_turn(n))
    await pg_store.append(key, make_turn(1) + make_turn(3))  # the replayed turn takes no numbers
    await pg_store.append(SessionKey("other"), make_turn(9))
    seqs = await admin.fetch(
        f"SELECT i.seq, i.item_id FROM {pg_store.names.items} i JOIN {pg_store.names.sessions} s"
        " ON s.id = i.session_ref WHERE s.session_id = 's' ORDER BY i.seq"
    )
    assert [(r["seq"], r["item_id"]) for r in seqs] == [(n + 1, f"msg_{n // 2}{'ua'[n % 2]}") for n in range(8)]


def _item_scans(plan: Any) -> list[dict[str, Any]]:
    """Every plan node that reads the items table (``EXPLAIN (ANALYZE, FORMAT JSON)``)."""
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if str(node.get("Relation Name", "")).endswith("items"):
            found.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def _item_reads(admin: asyncpg.Connection[Any], sql: str, *args: object) -> list[dict[str, Any]]:
    """The executed plan's scans of the items table (``Actual Rows`` is per loop).

    Whole-table scans are made prohibitively expensive: on tables this small the planner would
    pick them; what is checked is that the query can be served by its index, reading only its
    chain (the benchmark times the real thing on 100,000 items).
    """
    async with admin.transaction():
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            await admin.execute(f"SET LOCAL {setting} = off")
        raw = await admin.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    return _item_scans(json.loads(raw) if isinstance(raw, str) else raw)


def _is_segment_range_scan(node: dict[str, Any]) -> bool:
    """An index scan of the primary key bounded by session, branch and seq, dropping no row it reads."""
    cond = str(node.get("Index Cond", ""))
    return (
        node["Node Type"] in ("Index Scan", "Index Scan Backward")
        and str(node.get("Index Name", "")).endswith("_items_order")
        and "branch" in cond
        and "seq <=" in cond
        and int(node.get("Rows Removed by Filter", 0)) == 0
    )


@pytest.mark.asyncio
async def test_limited_load_reads_only_the_rows_it_returns(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    """``load(limit=20)`` at the tip of a 2,000-item session reads 20 item rows, by index."""
    key = SessionKey("s")
    for n in range(20):
        await pg_store.append(key, [make_item(f"{n}_{i}") for i in range(100)])
    await admin.execute(f"ANALYZE {pg_store.names.items}")
    names = pg_store.names
    [scan] = await _item_reads(admin, names.load_latest(latest=True), "", "", "s", 20)
    assert _is_segment_range_scan(scan), scan
    assert (scan["Actual Rows"], scan["Actual Loops"]) == (20, 1), scan
    [scan] = await _item_reads(admin, names.load_all(latest=True), "", "", "s")
    assert _is_segment_range_scan(scan), scan
    assert (scan["Actual Rows"], scan["Actual Loops"]) == (2000, 1), scan


@pytest.mark.asyncio
async def test_loads_at_a_fork_read_only_their_chain(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    """A chain with two forks: one query, one index range per segment, at most ``limit`` rows from each."""
    key = SessionKey("s")
    trunk = [(await pg_store.append(key, make_turn(n))).head for n in range(100)]  # 200 items
    side = [(await pg_store.append(key, make_turn(1000), head=trunk[49])).head]
    for n in range(1, 100):  # the side branch grows to 200 items, then forks again at its turn 40
        side.append((await pg_store.append(key, make_turn(1000 + n), head=side[-1])).head)
    tip = (await pg_store.append(key, make_turn(5000), head=side[39])).head
    for n in range(1, 50):
        tip = (await pg_store.append(key, make_turn(5000 + n), head=tip)).head
    await admin.execute(f"ANALYZE {pg_store.names.items}")
    names = pg_store.names
    chain = [f"msg_{n}{r}" for n in [*range(50), *range(1000, 1040), *range(5000, 5050)] for r in "ua"]
    assert [i["id"] for i in await pg_store.load(key, head=tip)] == chain
    [scan] = await _item_reads(admin, names.load_all(latest=False), "", "", "s", tip)
    assert _is_segment_range_scan(scan) and scan["Actual Loops"] == 3, scan
    [scan] = await _item_reads(admin, names.load_latest(latest=False), "", "", "s", tip, 20)
    assert _is_segment_range_scan(scan) and scan["Actual Loops"] == 3 and scan["Actual Rows"] <= 20, scan
    assert [i["id"] for i in await pg_store.load(key, head=tip, limit=120)] == chain[-120:]  # across a fork


def _plans_of_notices(messages: list[str]) -> list[Any]:
    """The plans ``auto_explain`` sent as notices (``log_format = json``)."""
    plans: list[Any] = []
    for message in messages:
        _, found, text = message.partition("plan:")
        if found:
            plans.append([json.loads(text)])  # as EXPLAIN (FORMAT JSON) gives it
    return plans


@pytest.mark.asyncio
async def test_an_append_probes_its_ids_instead_of_reading_the_chain(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    """The append function checks a turn's ids against the chain by index probes, whatever the chain's length.

    The statistics are left as they were while the session grew (as on a table autovacuum has not
    analysed yet): the planner must not read the chain's 2,000 items to find two ids.
    """
    key = SessionKey("s")
    for n in range(20):
        await pg_store.append(key, [make_item(f"{n}_{i}") for i in range(100)])
    names = pg_store.names
    notices: list[str] = []

    def listen(_conn: object, message: Any) -> None:
        notices.append(str(message.message))

    admin.add_log_listener(listen)
    try:
        async with admin.transaction():  # rolled back: the append is only observed
            await admin.execute("LOAD 'auto_explain'")
            for setting, value in (
                ("log_min_duration", "0"),
                ("log_analyze", "on"),
                ("log_nested_statements", "on"),
                ("log_format", "json"),
                ("log_level", "notice"),
            ):
                await admin.execute(f"SET LOCAL auto_explain.{setting} = '{value}'")
            row = await admin.fetchrow(
                names.append,
                "",
                "",
                "s",
                True,
                None,
                "turn_" + "0" * 32,
                ["msg_new", "msg_5_7"],
                [json.dumps(make_item("new")), json.dumps(make_item("5_7"))],
            )
            raise _RollBack
    except _RollBack:
        pass
    finally:
        admin.remove_log_listener(listen)
    assert row is not None and row["o_stored"] == 1  # msg_5_7 is in the chain already
    scans = [
        scan
        for plan in _plans_of_notices(notices)
        for scan in _item_scans(plan)
        if "Scan" in str(scan["Node Type"])  # not the insert itself
    ]
    lookups = [scan for scan in scans if str(scan.get("Index Name", "")).endswith("_items_id")]
    assert lookups, scans
    read = sum(int(scan["Actual Rows"]) * int(scan["Actual Loops"]) for scan in scans)
    assert read <= 4, scans  # the two probes (one finds msg_5_7) and the next seq's backward step


class _RollBack(Exception):
    pass


@pytest.mark.asyncio
async def test_list_sessions_pages_through_many_sessions(pg_store: PostgresHistoryStore) -> None:
    pg_store.LIST_PAGE_SIZE = 3  # type: ignore[misc]
    keys = {SessionKey(f"s{n}", user="u" if n % 2 else None) for n in range(8)}
    for key in keys:
        await pg_store.append(key, [make_item(1)])
    assert {k async for k in pg_store.list_sessions(user=ALL, chat=ALL)} == keys
    assert {k async for k in pg_store.list_sessions(user="u")} == {k for k in keys if k.user == "u"}


@pytest.mark.asyncio
async def test_session_emptied_by_retention_is_not_listed(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    await pg_store.append(SessionKey("kept"), [make_item(1)])
    await pg_store.append(SessionKey("trimmed"), [make_item(1)])
    await admin.execute(
        f"DELETE FROM {pg_store.names.items} WHERE session_ref = "
        f"(SELECT id FROM {pg_store.names.sessions} WHERE session_id = 'trimmed')"
    )
    assert {k async for k in pg_store.list_sessions()} == {SessionKey("kept")}
    assert await pg_store.delete(SessionKey("trimmed")) is False
    assert (await pg_store.append(SessionKey("trimmed"), [make_item(2)])).stored == 1
    assert [i["id"] for i in await pg_store.load(SessionKey("trimmed"))] == ["msg_2"]


@pytest.mark.asyncio
async def test_a_stored_body_that_is_not_an_object_is_reported_as_corrupt(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    key = SessionKey("s")
    await pg_store.append(key, [make_item(1)])
    await admin.execute(f"UPDATE {pg_store.names.items} SET body = '[1, 2]'")
    with pytest.raises(CorruptDataError, match="not a JSON object") as caught:
        await pg_store.load(key)
    assert caught.value.location is not None and "seq 1" in caught.value.location


def test_a_store_belongs_to_one_event_loop(dsn: str) -> None:
    store = open_postgres_store(dsn, schema=new_schema_name())  # dropped with the run's schemas
    asyncio.run(store.append(SessionKey("s"), [make_item(1)]))
    with pytest.raises(HistoryStoreError, match="another event loop"):
        asyncio.run(store.load(SessionKey("s")))
    asyncio.run(store.aclose())
    assert store.closed


@pytest.mark.asyncio
async def test_bare_backend_name_connects_through_the_libpq_environment(
    dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = urlsplit(dsn)
    for variable, value in [
        ("PGHOST", parts.hostname),
        ("PGPORT", str(parts.port) if parts.port else None),
        ("PGUSER", parts.username),
        ("PGPASSWORD", parts.password),
        ("PGDATABASE", parts.path.lstrip("/") or None),
    ]:
        if value:
            monkeypatch.setenv(variable, unquote(value))
    async with open_store("postgres", schema=schema) as store:
        assert isinstance(store, PostgresHistoryStore)
        await store.append(SessionKey("env"), [make_item(1)])
        assert [i["id"] for i in await store.load(SessionKey("env"))] == ["msg_1"]


@pytest.mark.asyncio
async def test_longest_keys_and_ids_the_indexes_take_are_stored(pg_store: PostgresHistoryStore) -> None:
    rng = random.Random(7)

    def incompressible(nbytes: int) -> str:  # two-byte Cyrillic letters in no pattern
        return "".join(chr(rng.randint(0x400, 0x4FF)) for _ in range(nbytes // 2))

    key = SessionKey(incompressible(866), user=incompressible(866), chat=incompressible(866))
    long_id = incompressible(MAX_INDEXED_BYTES)
    await pg_store.append(key, [{"type": "message", "id": long_id}])
    assert [i["id"] for i in await pg_store.load(key)] == [long_id]
    assert [k async for k in pg_store.list_sessions(user=key.user, chat=key.chat)] == [key]


@pytest.mark.asyncio
async def test_keys_and_ids_too_long_to_index_are_refused_and_nothing_is_stored(pg_store: PostgresHistoryStore) -> None:
    long_key = SessionKey("s" * 1024, user="u" * 1024, chat="c" * 600)
    with pytest.raises(ValueError, match=r"2648 bytes long in UTF-8 .* at most 2600"):
        await pg_store.append(long_key, [make_item(1)])
    key = SessionKey("s")
    with pytest.raises(ValueError, match=r"items\[1\] has an id of 2601 bytes"):
        await pg_store.append(key, [make_item(1), {"type": "message", "id": "x" * 2601}])
    assert await pg_store.load(key) == []
    assert await pg_store.load(long_key) == []
