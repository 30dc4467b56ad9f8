"""The sqlite backend as the hosting SDK's stores: responses as turns of history sessions, agent sessions."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from azure.ai.agentserver.responses import PlatformContext

from agent_framework_history import ALL, SessionKey, open_response_store, open_store
from agent_framework_history._hosting import open_session_records
from agent_framework_history.testing import ResponseStoreConformance, SessionRecordsConformance, host_turn
from agent_framework_history.testing import response_envelope as envelope
from agent_framework_history.testing import response_message as message
from agent_framework_history_sqlite import SQLiteHistoryStore
from agent_framework_history_sqlite._hosting import SQLiteResponseStore, SQLiteSessionRecords

from ._trips import Trips


class TestSQLiteResponseStore(ResponseStoreConformance):
    @pytest.fixture
    def response_store_factory(self, tmp_path: Path) -> Callable[[], AbstractAsyncContextManager[Any]]:
        counter = iter(range(10**6))

        @asynccontextmanager
        async def fresh() -> AsyncIterator[Any]:
            store = open_response_store(f"sqlite:///{tmp_path}/responses-{next(counter)}.db")
            assert isinstance(store, SQLiteResponseStore)
            yield store
            await store.aclose()

        return fresh


class TestSQLiteSessionRecords(SessionRecordsConformance):
    @pytest_asyncio.fixture
    async def session_records(self, tmp_path: Path) -> AsyncIterator[SQLiteSessionRecords]:
        records = open_session_records(f"sqlite:///{tmp_path}/sessions.db")
        assert isinstance(records, SQLiteSessionRecords)
        yield records
        await records.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("name_previous", [False, True])
async def test_a_hosts_chain_is_a_history_session_in_the_users_partition(tmp_path: Path, name_previous: bool) -> None:
    url = f"sqlite:///{tmp_path}/host.db"
    store = open_response_store(url)
    alice = PlatformContext(user_id_key="alice")
    previous = None
    for n in range(3):
        previous = await host_turn(store, alice, n, previous, name_previous=name_previous)
    fork = await host_turn(store, alice, 9, "caresp_0000", name_previous=name_previous)  # a fork of the first
    assert await store.get_history_item_ids(fork, None, -1, context=alice) == [
        "msg_0u",
        "msg_0a",
        "msg_9u",
        "msg_9a",
    ]
    await store.aclose()
    async with open_store(url) as history:
        keys = [key async for key in history.list_sessions(user=ALL, chat=ALL)]
        assert keys == [SessionKey("caresp_0000", user="alice")]
        assert [i["id"] for i in await history.load(keys[0])] == ["msg_0u", "msg_0a", "msg_9u", "msg_9a"]
        chain = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        assert [i["id"] for i in await history.load(keys[0], head=await tip_of(url, "caresp_0002"))] == chain


async def tip_of(url: str, response_id: str) -> str:
    """The chain head a response's latest items are in (read straight from the table)."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (head,) = conn.execute("SELECT head FROM af_history_responses WHERE response_id = ?", (response_id,)).fetchone()
    return str(head)


@pytest.mark.asyncio
async def test_two_store_objects_on_one_file_continue_each_others_chains(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    first, second = open_response_store(url), open_response_store(url)
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(first, user, 0, None)
    r1 = await host_turn(second, user, 1, r0)
    r2 = await host_turn(first, user, 2, r1)
    ids = await second.get_history_item_ids(r2, None, -1, context=user)
    assert ids == [f"msg_{n}{r}" for n in range(3) for r in "ua"]
    assert await second.get_history_item_ids(r2, None, -1, context=PlatformContext(user_id_key="other")) == []
    await first.aclose()
    await second.aclose()


@pytest.mark.asyncio
async def test_a_long_chain_keeps_no_history_list_per_response(tmp_path: Path) -> None:
    path = tmp_path / "long.db"
    store = open_response_store(f"sqlite:///{path}")
    user = PlatformContext(user_id_key="u")
    previous = None
    for n in range(50):
        previous = await host_turn(store, user, n, previous)
    await store.aclose()
    with sqlite3.connect(path) as conn:
        explicit = conn.execute("SELECT COUNT(*) FROM af_history_responses WHERE history IS NOT NULL").fetchone()[0]
        lengths = [row[0] for row in conn.execute("SELECT history_len FROM af_history_responses ORDER BY id")]
    assert explicit == 0
    assert lengths == [2 * n for n in range(50)]
    fresh = open_response_store(f"sqlite:///{path}")  # a cold process reconstructs the chain from the rows
    ids = await fresh.get_history_item_ids(previous, None, -1, context=user)
    assert ids == [f"msg_{n}{r}" for n in range(50) for r in "ua"]
    await fresh.aclose()


@pytest.mark.asyncio
async def test_changing_outputs_keeps_later_responses_history_as_it_was(tmp_path: Path) -> None:
    store = open_response_store(f"sqlite:///{tmp_path}/pin.db")
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(store, user, 0, None)
    r1 = await host_turn(store, user, 1, r0)
    await store.update_response(envelope(r0, [message("msg_0b", "replaced", "assistant")]), context=user)
    assert await store.get_history_item_ids(r1, None, -1, context=user) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    assert await store.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", "msg_0b"]
    await store.aclose()


@pytest.mark.asyncio
async def test_version_2_databases_upgrade_and_read_only_copies_still_read(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(SessionKey("s", user="u"), [message("msg_1", "kept")])
    with sqlite3.connect(path) as conn:  # back to version 2: drop what versions 3 and 4 added
        for statement in (
            "DROP TRIGGER af_history_turns_touch_session",
            "ALTER TABLE af_history_sessions DROP COLUMN updated_at",
            "DELETE FROM af_history_schema_version WHERE version = 4",
            "DROP TABLE af_history_responses",
            "DROP TABLE af_history_agent_sessions",
            "DROP INDEX af_history_items_by_item",
            "DELETE FROM af_history_schema_version WHERE version = 3",
            "INSERT INTO af_history_schema_version (version) VALUES (2)",
        ):
            conn.execute(statement)
    async with SQLiteHistoryStore(path, mode="ro") as read_only:
        assert [i["id"] for i in await read_only.load(SessionKey("s", user="u"))] == ["msg_1"]
    store = open_response_store(f"sqlite:///{path}")  # opening for writing migrates to the current version
    await store.create_response(envelope("caresp_1", []), [message("msg_2", "new")], [], context=None)
    found = await store.get_items(["msg_1", "msg_2"], context=PlatformContext(user_id_key="u"))
    assert [None if i is None else i["id"] for i in found] == ["msg_1", None]  # msg_2 is the anonymous caller's
    await store.aclose()
    with sqlite3.connect(path) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM af_history_schema_version ORDER BY version")] == [
            2,
            3,
            4,
        ]


@pytest.mark.asyncio
async def test_a_deleted_and_recreated_previous_response_leaves_its_continuations_history(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/recreate.db"
    user = PlatformContext(user_id_key="u")
    writer = open_response_store(url)
    r0 = await host_turn(writer, user, 0, None)
    r1 = await host_turn(writer, user, 1, r0)
    await writer.delete_response(r0, context=user)
    await writer.create_response(envelope(r0, []), [message("msg_new", "another r0")], [], context=user)
    await writer.aclose()
    reader = open_response_store(url)  # a cold process: nothing cached
    assert await reader.get_history_item_ids(r1, None, -1, context=user) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    await reader.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("outputs", [["msg_0a", "msg_0b"], ["msg_0b"], []])
async def test_outputs_changed_after_a_continuation_leave_its_history_for_a_cold_reader(
    tmp_path: Path, outputs: list[str]
) -> None:
    url = f"sqlite:///{tmp_path}/grow.db"
    user = PlatformContext(user_id_key="u")
    writer = open_response_store(url)
    r0 = await host_turn(writer, user, 0, None)
    r1 = await host_turn(writer, user, 1, r0)
    changed = envelope(r0, [message(item_id, item_id, "assistant") for item_id in outputs])
    await writer.update_response(changed, context=user)
    await writer.aclose()
    reader = open_response_store(url)  # a cold process: nothing cached
    assert await reader.get_history_item_ids(r1, None, -1, context=user) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    assert await reader.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", *outputs]
    await reader.aclose()


@pytest.mark.asyncio
async def test_the_per_turn_read_is_answered_here_and_sees_other_writers_at_once(tmp_path: Path) -> None:
    """The host's per-turn ``get_history_item_ids`` reads the row on the event loop (no worker trip), never stale."""
    url = f"sqlite:///{tmp_path}/glance.db"
    first, second = open_response_store(url), open_response_store(url)
    assert isinstance(first, SQLiteResponseStore)
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(first, user, 0, None)
    r1 = await host_turn(first, user, 1, r0)

    trips = Trips(first._db)
    chain = ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    assert await first.get_history_item_ids(r1, None, -1, context=user) == chain
    assert trips.take() == 0  # the row's version and the cached chain: answered on the loop
    # Another store (another process, as far as this one can tell) changes and deletes rows.
    await second.update_response(envelope(r1, [message("msg_1b", "redone", "assistant")]), context=user)
    assert await first.get_history_item_ids(r1, None, -1, context=user) == ["msg_0u", "msg_0a", "msg_1u", "msg_1b"]
    assert trips.take() == 1  # a new version: read on the worker, which rebuilds the chain
    await second.delete_response(r1, context=user)
    assert await first.get_history_item_ids(r1, None, -1, context=user) == []
    assert await first.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", "msg_0a"]

    # A read SQLite cannot answer at once (here: the glance's connection is gone) goes to the worker.
    trips.take()
    glance = first._db._glance_conn
    assert glance is not None
    glance.close()
    assert await first.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", "msg_0a"]
    assert trips.take() == 1
    trips.stop()
    await first.aclose()
    await second.aclose()


@pytest.mark.asyncio
async def test_in_memory_databases_read_on_the_worker() -> None:
    store = open_response_store("sqlite:///:memory:")
    assert isinstance(store, SQLiteResponseStore)
    user = PlatformContext(user_id_key="u")
    r0 = await host_turn(store, user, 0, None)
    assert await store.get_history_item_ids(r0, None, -1, context=user) == ["msg_0u", "msg_0a"]
    assert store._db._glance_conn is None  # a second connection to ":memory:" would be another database
    await store.aclose()


@pytest.mark.asyncio
async def test_a_commit_that_fails_leaves_nothing_a_later_response_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a failed transaction wrote is gone: no chain of it stays cached for the row id SQLite reuses."""
    from agent_framework_history import HistoryStoreError
    from agent_framework_history_sqlite import _database

    url = f"sqlite:///{tmp_path}/host.db"
    store = open_response_store(url)
    other = open_response_store(url)  # another process's store on the same file
    alice, bob = PlatformContext(user_id_key="alice"), PlatformContext(user_id_key="bob")
    await store.create_response(envelope("caresp_b0", []), [message("msg_b0", "bob")], [], context=bob)
    await store.create_response(envelope("caresp_a0", []), [message("msg_a0", "alice")], [], context=alice)
    real = _database._transaction

    def commit_fails(conn: sqlite3.Connection, operation: Callable[[sqlite3.Connection], Any]) -> Any:
        conn.execute("BEGIN IMMEDIATE")
        operation(conn)
        conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(_database, "_transaction", commit_fails)
    with pytest.raises(HistoryStoreError):
        await store.create_response(
            envelope("caresp_a1", []), [message("msg_secret", "alice's secret")], [], context=alice
        )
    with pytest.raises(HistoryStoreError):
        await store.update_response(
            envelope("caresp_a0", [message("msg_lost", "never stored", "assistant")]), context=alice
        )
    monkeypatch.setattr(_database, "_transaction", real)

    # Bob's next response (stored by the other writer) takes the row id the failed insert had: he reads his own.
    await other.create_response(envelope("caresp_b1", []), [message("msg_b1", "bob again")], [], context=bob)
    assert await store.get_history_item_ids("caresp_b1", None, -1, context=bob) == ["msg_b1"]
    with pytest.raises(KeyError):
        await store.get_response("caresp_a1", context=alice)
    # Another writer completes alice's response: this store reads what that writer stored, not the failed outputs.
    await other.update_response(envelope("caresp_a0", [message("msg_a0a", "answer", "assistant")]), context=alice)
    assert await store.get_history_item_ids("caresp_a0", None, -1, context=alice) == ["msg_a0", "msg_a0a"]
    await store.aclose()
    await other.aclose()
