"""The postgres backend as the hosting SDK's stores: responses as turns of history sessions, agent sessions."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio
from azure.ai.agentserver.responses import PlatformContext
from azure.ai.agentserver.responses.store import ResponseAlreadyExistsError
from hypothesis import HealthCheck, given, settings

from agent_framework_history import (
    ALL,
    SchemaVersionError,
    SessionConflictError,
    SessionKey,
    open_response_store,
)
from agent_framework_history import open_store as open_history_store
from agent_framework_history._hosting import open_session_records
from agent_framework_history.testing import ResponseStoreConformance, SessionRecordsConformance, host_turn
from agent_framework_history.testing import response_envelope as envelope
from agent_framework_history.testing import response_message as message
from agent_framework_history.testing._response_kit import SCENARIOS, Op, _Driver, operations
from agent_framework_history_postgres import LATEST_VERSION, Names, open_postgres_store
from agent_framework_history_postgres._hosting import PostgresResponseStore, PostgresSessionRecords
from agent_framework_history_postgres._types import Connection

from .conftest import new_schema_name
from .test_postgres_connection_loss import terminate

T = TypeVar("T")
SESSION_WRITER = Path(__file__).with_name("_session_writer.py")


def url(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


async def drop_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class TestPostgresResponseStore(ResponseStoreConformance):
    @pytest.fixture
    def response_store_factory(self, dsn: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
        @asynccontextmanager
        async def fresh() -> AsyncIterator[Any]:
            schema = new_schema_name()  # every sequence starts from an empty schema
            store = open_response_store(url(dsn, schema), pool_max_size=2)
            assert isinstance(store, PostgresResponseStore)
            try:
                yield store
            finally:
                await store.aclose()
                await drop_schema(dsn, schema)

        return fresh


class Replicas:
    """A response store spread over replicas: each call goes to the next store, round robin.

    The last store forgets every cached chain before each call (a process that has read nothing),
    the others keep caches that another replica's writes make stale.
    """

    def __init__(self, stores: list[PostgresResponseStore]) -> None:
        self.stores = stores
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        store = self.stores[self.calls % len(self.stores)]
        self.calls += 1
        if store is self.stores[-1]:
            store._chains.clear()
            store._seen.clear()
        return getattr(store, name)


class TestPostgresResponseStoreAcrossReplicas(ResponseStoreConformance):
    """The SDK's answers when every call may land on another replica, warm, stale or cold."""

    @pytest.fixture
    def response_store_factory(self, dsn: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
        @asynccontextmanager
        async def fresh() -> AsyncIterator[Any]:
            schema = new_schema_name()
            stores = [open_response_store(url(dsn, schema), pool_max_size=1) for _ in range(3)]
            assert all(isinstance(store, PostgresResponseStore) for store in stores)
            try:
                yield Replicas(stores)
            finally:
                for store in stores:
                    await store.aclose()
                await drop_schema(dsn, schema)

        return fresh


class HostDriver(_Driver):
    """The kit's driver, storing envelopes as the SDK's host does: without ``previous_response_id``."""

    def envelope(self, op: Op, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        value = super().envelope(op, outputs)
        value.pop("previous_response_id", None)
        return value


async def run_as_the_host(dsn: str, ops: list[Op]) -> None:
    """``ops`` against the SDK's store and three replicas of this one, envelopes as the SDK's host stores them."""
    from azure.ai.agentserver.responses import InMemoryResponseProvider

    schema = new_schema_name()
    stores = [open_response_store(url(dsn, schema), pool_max_size=1) for _ in range(3)]
    try:
        reference, driver, store = InMemoryResponseProvider(), HostDriver(), Replicas(stores)
        for step, op in enumerate(ops):
            expected, actual = await driver.run(op, reference, store)
            assert actual == expected, f"step {step}: {op}\nSDK store: {expected}\nthis store: {actual}"
    finally:
        for one in stores:
            await one.aclose()
        await drop_schema(dsn, schema)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_kits_scenarios_when_envelopes_do_not_name_the_previous_response(dsn: str, name: str) -> None:
    asyncio.run(run_as_the_host(dsn, SCENARIOS[name]))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations())
def test_the_sdks_answers_when_envelopes_do_not_name_the_previous_response(dsn: str, ops: list[Op]) -> None:
    """Where the items go is found from the history alone; every answer stays the SDK's, on any replica."""
    asyncio.run(run_as_the_host(dsn, ops))


class TestPostgresSessionRecords(SessionRecordsConformance):
    @pytest_asyncio.fixture
    async def session_records(self, dsn: str, schema: str) -> AsyncIterator[PostgresSessionRecords]:
        records = open_session_records(url(dsn, schema), pool_max_size=10)
        assert isinstance(records, PostgresSessionRecords)
        yield records
        await records.aclose()


def turn_ids(*turns: int) -> list[str]:
    return [f"msg_{n}{r}" for n in turns for r in "ua"]


@pytest_asyncio.fixture
async def store_url(dsn: str, schema: str) -> str:
    return url(dsn, schema)


@pytest.mark.asyncio
@pytest.mark.parametrize("name_previous", [False, True])
async def test_a_hosts_chain_is_a_history_session_in_the_users_partition(store_url: str, name_previous: bool) -> None:
    store = open_response_store(store_url)
    alice = PlatformContext(user_id_key="alice")
    previous = None
    for n in range(3):
        previous = await host_turn(store, alice, n, previous, name_previous=name_previous)
    fork = await host_turn(store, alice, 9, "caresp_0000", name_previous=name_previous)  # a fork of the first
    assert await store.get_history_item_ids(fork, None, -1, context=alice) == turn_ids(0, 9)
    empty_user = PlatformContext(user_id_key="")
    await host_turn(store, empty_user, 20, None)
    await store.aclose()
    async with open_history_store(store_url) as history:
        keys = [key async for key in history.list_sessions(user=ALL, chat=ALL)]
        assert keys == [SessionKey("caresp_0020", chat="~empty-user"), SessionKey("caresp_0000", user="alice")]
        assert [i["id"] for i in await history.load(keys[1])] == turn_ids(0, 9)  # the latest turn: the fork
        assert [i["id"] for i in await history.load(keys[0])] == turn_ids(20)
        # The host's chain continues like any history: an append after the tip is a later turn.
        await history.append(keys[1], [message("msg_x", "appended by hand")])
        assert [i["id"] for i in await history.load(keys[1])][-1] == "msg_x"
        assert await history.delete(keys[0]) is True  # the empty user's items go; the response stays
    store = open_response_store(store_url)
    assert (await store.get_response("caresp_0020", context=empty_user))["id"] == "caresp_0020"
    assert await store.get_items(["msg_20u", "msg_0u"], context=empty_user) == [None, None]
    assert await store.get_input_items("caresp_0020", context=empty_user) == []
    assert await store.get_history_item_ids("caresp_0020", None, -1, context=empty_user) == turn_ids(20)
    await store.aclose()


@pytest.mark.asyncio
async def test_a_conversation_is_one_session_named_by_its_id(store_url: str) -> None:
    store = open_response_store(store_url)
    user = PlatformContext(user_id_key="u")
    for n in range(3):
        value = envelope(f"caresp_{n}", [message(f"msg_{n}a", "a", "assistant")])
        value["conversation"] = {"id": "conv_1"}
        history = await store.get_history_item_ids(None, "conv_1", -1, context=user)
        await store.create_response(value, [message(f"msg_{n}u", "q")], history, context=user)
    assert await store.get_history_item_ids(None, "conv_1", -1, context=user) == turn_ids(0, 1, 2)
    await store.aclose()
    async with open_history_store(store_url) as history:
        assert [k async for k in history.list_sessions(user=ALL, chat=ALL)] == [SessionKey("conv_1", user="u")]
        assert [i["id"] for i in await history.load(SessionKey("conv_1", user="u"))] == turn_ids(0, 1, 2)


@pytest.mark.asyncio
async def test_two_store_objects_continue_each_others_chains(store_url: str) -> None:
    first, second = open_response_store(store_url), open_response_store(store_url)  # two pools: two replicas
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(first, user, 0, None)
    r1 = await host_turn(second, user, 1, r0)
    r2 = await host_turn(first, user, 2, r1)
    assert await second.get_history_item_ids(r2, None, -1, context=user) == turn_ids(0, 1, 2)
    assert await second.get_history_item_ids(r2, None, -1, context=PlatformContext(user_id_key="other")) == []
    # The first store cached r1's chain when it created r2; the second changes r1's outputs since.
    await second.update_response(envelope(r1, [message("msg_1b", "redone", "assistant")], r0), context=user)
    assert await first.get_history_item_ids(r1, None, -1, context=user) == [*turn_ids(0), "msg_1u", "msg_1b"]
    assert await first.get_history_item_ids(r2, None, -1, context=user) == turn_ids(0, 1, 2)
    await first.aclose()
    await second.aclose()


@pytest.mark.asyncio
async def test_a_replica_that_read_nothing_finds_the_response_a_history_continues(
    store_url: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    first, second = open_response_store(store_url), open_response_store(store_url)
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(first, user, 0, None)
    history = await first.get_history_item_ids(r0, None, -1, context=user)
    # No previous_response_id (as the SDK's host stores it), on a replica that never read r0.
    await second.create_response(envelope("caresp_0001", []), [message("msg_1u", "q")], history, context=user)
    row = await admin.fetchrow(
        f'SELECT c.history, c.history_len, p.response_id AS parent FROM "{schema}".af_history_responses c'
        f' LEFT JOIN "{schema}".af_history_responses p ON p.id = c.parent WHERE c.response_id = $1',
        "caresp_0001",
    )
    assert (row["history"], row["history_len"], row["parent"]) == (None, 2, r0)
    assert await first.get_history_item_ids("caresp_0001", None, -1, context=user) == [*turn_ids(0), "msg_1u"]
    # A history that ends with no response's latest item continues nothing: a session of its own.
    await second.create_response(envelope("caresp_0002", []), [message("msg_2u", "q")], ["msg_0u"], context=user)
    await first.aclose()
    await second.aclose()
    async with open_history_store(store_url) as history_store:
        assert [k async for k in history_store.list_sessions(user=ALL, chat=ALL)] == [
            SessionKey("caresp_0000", user="u"),
            SessionKey("caresp_0002", user="u"),
        ]
        loaded = await history_store.load(SessionKey("caresp_0000", user="u"))
        assert [i["id"] for i in loaded] == [*turn_ids(0), "msg_1u"]


@pytest.mark.asyncio
async def test_a_long_chain_keeps_no_history_list_per_response(
    store_url: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    store = open_response_store(store_url)
    user = PlatformContext(user_id_key="u")
    previous = None
    for n in range(60):
        previous = await host_turn(store, user, n, previous)
    await store.aclose()
    rows = await admin.fetch(f'SELECT history, history_len FROM "{schema}".af_history_responses ORDER BY id')
    assert [r["history"] for r in rows] == [None] * 60
    assert [r["history_len"] for r in rows] == [2 * n for n in range(60)]
    fresh = open_response_store(store_url)  # a cold process reconstructs the chain from the rows
    assert await fresh.get_history_item_ids(previous, None, -1, context=user) == turn_ids(*range(60))
    assert await fresh.get_history_item_ids("caresp_0030", None, 4, context=user) == turn_ids(29, 30)
    page = await fresh.get_input_items(previous, 3, context=user)
    assert [i["id"] for i in page] == ["msg_59u", "msg_58a", "msg_58u"]
    await fresh.aclose()


def count_statements(store: Any) -> list[str]:
    """Every statement ``store`` sends from now on (one entry per round trip)."""
    statements: list[str] = []
    inner = store._store._with_connection

    async def counted(what: str, operation: Callable[[Connection], Awaitable[T]], pool: Any = None) -> T:
        async def logged(conn: Connection) -> T:
            def log(record: Any) -> None:
                statements.append(record.query)

            conn.add_query_logger(log)
            try:
                return await operation(conn)
            finally:
                conn.remove_query_logger(log)

        return await inner(what, logged, pool)

    store._store._with_connection = counted
    return statements


@pytest.mark.asyncio
async def test_a_hosts_turn_costs_one_statement_per_call(store_url: str) -> None:
    store = open_response_store(store_url)
    user = PlatformContext(user_id_key="u")
    previous = None
    for n in range(5):
        previous = await host_turn(store, user, n, previous)
    statements = count_statements(store)
    history = await store.get_history_item_ids(previous, None, -1, context=user)
    assert len(statements) == 1 and history == turn_ids(*range(5))
    started = envelope("caresp_0005", [])
    await store.create_response(started, [message("msg_5u", "q")], history, context=user)
    assert len(statements) == 2 and "create_response" in statements[1]
    done = envelope("caresp_0005", [message("msg_5a", "a", "assistant")])
    await store.update_response(done, context=user)
    assert len(statements) == 3 and "update_response" in statements[2]
    completed = store._seen[("u", "", "caresp_0005")]
    assert store._chains[completed].ids() == turn_ids(*range(6))  # completing it extended the cached chain
    assert await store.get_history_item_ids("caresp_0005", None, -1, context=user) == turn_ids(*range(6))
    assert len(statements) == 4
    await store.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("outputs", [["msg_0a", "msg_0b"], ["msg_0b"]], ids=["outputs added", "outputs replaced"])
async def test_changing_outputs_keeps_later_responses_history_as_it_was(store_url: str, outputs: list[str]) -> None:
    user = PlatformContext(user_id_key="u")
    writer = open_response_store(store_url)
    r0 = await host_turn(writer, user, 0, None)
    r1 = await host_turn(writer, user, 1, r0)
    changed = envelope(r0, [message(i, "changed", "assistant") for i in outputs])
    await writer.update_response(changed, context=user)
    assert await writer.get_history_item_ids(r1, None, -1, context=user) == turn_ids(0, 1)
    await writer.aclose()
    reader = open_response_store(store_url)  # a cold process: nothing cached
    assert await reader.get_history_item_ids(r1, None, -1, context=user) == turn_ids(0, 1)
    assert await reader.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", *outputs]
    [item] = await reader.get_items([outputs[-1]], context=user)
    assert item is not None and item["content"][0]["text"] == "changed"
    await reader.aclose()


@pytest.mark.asyncio
async def test_a_deleted_and_recreated_previous_response_leaves_its_continuations_history(store_url: str) -> None:
    user = PlatformContext(user_id_key="u")
    writer = open_response_store(store_url)
    r0 = await host_turn(writer, user, 0, None)
    r1 = await host_turn(writer, user, 1, r0)
    await writer.delete_response(r0, context=user)
    with pytest.raises(KeyError):
        await writer.get_response(r0, context=user)
    await writer.create_response(envelope(r0, []), [message("msg_new", "another r0")], [], context=user)
    await writer.aclose()
    reader = open_response_store(store_url)  # a cold process: nothing cached
    assert await reader.get_history_item_ids(r1, None, -1, context=user) == turn_ids(0, 1)
    assert await reader.get_history_item_ids(r0, None, -1, context=user) == ["msg_new"]
    await reader.aclose()


@pytest.mark.asyncio
async def test_racing_creates_of_one_id_store_one_response_and_only_its_items(store_url: str) -> None:
    stores = [open_response_store(store_url) for _ in range(4)]
    user = PlatformContext(user_id_key="u")

    async def create(n: int, store: Any) -> bool:
        value = envelope("caresp_same", [message(f"msg_{n}a", "a", "assistant")])
        try:
            await store.create_response(value, [message(f"msg_{n}u", "q")], [], context=user)
        except ResponseAlreadyExistsError:
            return False
        return True

    won = await asyncio.gather(*(create(n, s) for n, s in enumerate(stores)))
    assert won.count(True) == 1
    winner = won.index(True)
    assert await stores[0].get_history_item_ids("caresp_same", None, -1, context=user) == turn_ids(winner)
    async with open_history_store(store_url) as history:
        loaded = await history.load(SessionKey("caresp_same", user="u"))
        assert [i["id"] for i in loaded] == turn_ids(winner)  # the losers' items rolled back with them
    for store in stores:
        await store.aclose()


@pytest.mark.asyncio
async def test_session_records_survive_reopening_and_stay_in_their_scope(store_url: str) -> None:
    records = open_session_records(store_url)
    assert await records.write("u:a", "s1", {"n": 1, "text": "nul \u0000 kept"}, 0) == 1
    assert await records.write("u:a", "s1", {"n": 2}, None) == 2
    await records.aclose()
    again = open_session_records(store_url)
    assert await again.read("u:a", "s1") == ({"n": 2}, 2)
    assert await again.read("u:b", "s1") is None
    assert await again.remove("u:a", "s1") is True
    assert await again.remove("u:a", "s1") is False
    await again.aclose()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_session_record_writers_in_separate_processes_exactly_one_wins(dsn: str, schema: str) -> None:
    records = open_session_records(url(dsn, schema))
    assert await records.write("race", "hot", {"writer": -1}, 0) == 1
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(SESSION_WRITER),
            dsn,
            schema,
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(4)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert (await writer.stdout.readline()).decode().strip() == "ready"
        for writer in writers:  # every one has read version 1; now all write at once
            assert writer.stdin is not None
            writer.stdin.write(b"go\n")
            await writer.stdin.drain()
        outcomes = []
        for writer in writers:
            out, _ = await writer.communicate()
            outcomes.append(out.decode().strip())
            assert writer.returncode == 0
    finally:
        for writer in writers:
            if writer.returncode is None:
                writer.kill()
                await writer.wait()
    assert sorted(outcomes) == ["lost"] * 3 + ["won 2"]
    winner = [n for n, outcome in enumerate(outcomes) if outcome.startswith("won")]
    assert await records.read("race", "hot") == ({"writer": winner[0]}, 2)
    await records.aclose()


def lose_the_first_reply(target: Any, admin: asyncpg.Connection[Any]) -> list[int]:
    """Make the first operation of ``target`` commit, then lose its connection, as if the reply was lost."""
    inner = target._store._with_connection
    pids: list[int] = []

    async def patched(what: str, operation: Callable[[Connection], Awaitable[T]], pool: Any = None) -> T:
        async def once(conn: Connection) -> T:
            result = await operation(conn)
            pids.append(conn.get_server_pid())
            if len(pids) == 1:
                await terminate(admin, pids[0])
                await conn.fetchval("SELECT 1")  # raises: the connection is gone
            return result

        return await inner(what, once, pool)

    target._store._with_connection = patched
    return pids


@pytest.mark.asyncio
async def test_retried_creates_and_deletes_whose_first_attempt_committed_succeed_once(
    store_url: str, admin: asyncpg.Connection[Any]
) -> None:
    user = PlatformContext(user_id_key="u")
    store = open_response_store(store_url)
    await store.create_response(envelope("caresp_0", []), [message("msg_0u", "q")], [], context=user)
    history = await store.get_history_item_ids("caresp_0", None, -1, context=user)
    pids = lose_the_first_reply(store, admin)
    await store.create_response(envelope("caresp_1", [], "caresp_0"), [message("msg_1u", "q")], history, context=user)
    assert len(pids) == 2 and pids[0] != pids[1]  # the create that lost its reply, then its retry
    assert await store.get_history_item_ids("caresp_1", None, -1, context=user) == ["msg_0u", "msg_1u"]
    async with open_history_store(store_url) as history_store:
        loaded = await history_store.load(SessionKey("caresp_0", user="u"))
        assert [i["id"] for i in loaded] == ["msg_0u", "msg_1u"]
    with pytest.raises(ResponseAlreadyExistsError):  # a create of an id that exists is still refused
        await store.create_response(envelope("caresp_1", []), [], [], context=user)

    pids = lose_the_first_reply(store, admin)
    await store.delete_response("caresp_1", context=user)  # no KeyError: the retry finds its own delete
    assert len(pids) == 2
    with pytest.raises(KeyError):
        await store.delete_response("caresp_1", context=user)
    await store.aclose()


@pytest.mark.asyncio
async def test_a_retried_session_write_whose_first_attempt_committed_is_no_conflict(
    store_url: str, admin: asyncpg.Connection[Any]
) -> None:
    records = open_session_records(store_url)
    assert await records.write("-", "s", {"n": 1}, 0) == 1
    pids = lose_the_first_reply(records, admin)
    assert await records.write("-", "s", {"n": 2}, 1) == 2
    assert len(pids) == 2
    assert await records.read("-", "s") == ({"n": 2}, 2)
    with pytest.raises(SessionConflictError):  # a write based on version 1 is stale now
        await records.write("-", "s", {"n": 3}, 1)
    await records.aclose()


# -- the version 3 upgrade ------------------------------------------------------------------

_BACK_TO_VERSION_2 = """
DROP FUNCTION "{s}".af_history_append_batch;
DROP FUNCTION "{s}".af_history_create_response;
DROP FUNCTION "{s}".af_history_update_response;
DROP TABLE "{s}".af_history_responses;
DROP TABLE "{s}".af_history_agent_sessions;
DROP INDEX "{s}".af_history_items_item;
DROP FUNCTION "{s}".af_history_append;
DELETE FROM "{s}".af_history_schema_version WHERE version >= 3;
"""


@pytest.mark.asyncio
async def test_version_2_tables_upgrade_in_place_and_lose_nothing(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    key = SessionKey("s", user="u")
    async with open_postgres_store(dsn, schema=schema) as store:
        first = await store.append(key, [message("msg_1", "kept"), message("msg_2", "kept too")])
        await store.append(key, [message("msg_3", "a fork")], head=first.head)
    await admin.execute(_BACK_TO_VERSION_2.format(s=schema))
    await admin.execute(Names(schema, "af_history_").append_function_at(2))
    versions = await admin.fetch(f'SELECT version FROM "{schema}".af_history_schema_version ORDER BY version')
    assert [r["version"] for r in versions] == [1, 2]

    store = open_response_store(url(dsn, schema))  # opening migrates to the latest version
    assert LATEST_VERSION == 6
    alice_u = PlatformContext(user_id_key="u")
    found = await store.get_items(["msg_1", "msg_3", "msg_9"], context=alice_u)
    assert [None if i is None else i["id"] for i in found] == ["msg_1", "msg_3", None]
    await store.create_response(envelope("caresp_1", []), [message("msg_4", "new")], [], context=alice_u)
    assert await store.get_history_item_ids("caresp_1", None, -1, context=alice_u) == ["msg_4"]
    await store.aclose()
    versions = await admin.fetch(f'SELECT version FROM "{schema}".af_history_schema_version ORDER BY version')
    assert [r["version"] for r in versions] == [1, 2, 3, 4, 5, 6]
    async with open_postgres_store(dsn, schema=schema) as history:
        assert [i["id"] for i in await history.load(key, head=first.head)] == ["msg_1", "msg_2"]
        assert [i["id"] for i in await history.load(key)] == ["msg_1", "msg_2", "msg_3"]

    # A version newer than this library is refused, by the response store and the session records alike.
    await admin.execute(
        f"INSERT INTO \"{schema}\".af_history_schema_version (version, description) VALUES ($1, 'future')",
        LATEST_VERSION + 1,
    )
    newer = open_response_store(url(dsn, schema))
    with pytest.raises(SchemaVersionError, match=rf"at version {LATEST_VERSION + 1}.*upgrade it"):
        await newer.get_response("caresp_1", context=alice_u)
    await newer.aclose()
    records = open_session_records(url(dsn, schema))
    with pytest.raises(SchemaVersionError, match=rf"at version {LATEST_VERSION + 1}"):
        await records.read("-", "s")
    await records.aclose()
