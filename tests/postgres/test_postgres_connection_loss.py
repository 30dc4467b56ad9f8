"""Connections killed with pg_terminate_backend: nothing lost, nothing duplicated, nothing half-written.

The store awaits ``_in_append_hook`` inside the append transaction, after the items are
inserted and before the commit; the tests use it to find the backend serving the append and
to kill it at exactly that point.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest

from agent_framework_history import SessionKey, StoreUnavailableError
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_postgres import (
    Connection,
    PostgresHistoryStore,
    PostgresUnavailableError,
    open_postgres_store,
)

KEY = SessionKey("s", user="u")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def terminate(admin: asyncpg.Connection[Any], pid: int) -> None:
    """Kill a backend and wait until it is gone."""
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    for _ in range(500):
        if not await admin.fetchval("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} did not exit")


async def paused_append(
    store: PostgresHistoryStore, items: list[dict[str, Any]]
) -> tuple[asyncio.Task[Any], asyncio.Event]:
    """Start appending ``items``; return once the append waits inside its transaction, until the event is set."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def pause(conn: Connection) -> None:
        inside.set()
        await release.wait()

    store._in_append_hook = pause
    append = asyncio.create_task(store.append(KEY, items))
    await inside.wait()
    store._in_append_hook = None  # only this append pauses
    return append, release


@pytest.mark.asyncio
async def test_connection_killed_inside_the_append_is_retried_once_and_stores_once(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    await pg_store.append(KEY, make_turn(0))
    pids: list[int] = []

    async def kill_first(conn: Connection) -> None:
        pids.append(conn.get_server_pid())
        if len(pids) == 1:
            await terminate(admin, pids[0])

    pg_store._in_append_hook = kill_first
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.postgres"):
        result = await pg_store.append(KEY, make_turn(1))
    assert len(pids) == 2 and pids[0] != pids[1], "the append ran again on a new connection"
    assert "retrying once" in caplog.text
    assert result.stored == 2
    assert _ids(await pg_store.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]

    pg_store._in_append_hook = None
    await pg_store.append(KEY, make_turn(2))
    assert _ids(await pg_store.load(KEY, limit=2)) == ["msg_2u", "msg_2a"]


@pytest.mark.asyncio
async def test_retry_after_a_lost_reply_skips_what_already_landed(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any], dsn: str, schema: str
) -> None:
    """The connection dies and the same turn lands anyway (as when a commit's reply is lost): no duplicate."""
    turn = make_turn(1)
    async with open_postgres_store(dsn, schema=schema) as other:
        await other.append(KEY, make_turn(0))
        calls: list[int] = []

        async def kill_then_land_elsewhere(conn: Connection) -> None:
            calls.append(conn.get_server_pid())
            if len(calls) == 1:
                await terminate(admin, calls[0])  # this attempt rolls back...
                assert (await other.append(KEY, turn)).stored == 2  # ...and the turn lands all the same

        pg_store._in_append_hook = kill_then_land_elsewhere
        assert (await pg_store.append(KEY, turn)).stored == 0
        assert len(calls) == 2
        assert _ids(await other.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_connection_killed_on_the_retry_too_raises_and_writes_nothing(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    await pg_store.append(KEY, make_turn(0))
    pids: list[int] = []

    async def kill_always(conn: Connection) -> None:
        pids.append(conn.get_server_pid())
        await terminate(admin, pids[-1])

    pg_store._in_append_hook = kill_always
    with pytest.raises(PostgresUnavailableError, match="again on the retry.*none was half-written") as caught:
        await pg_store.append(KEY, [*make_turn(1), make_item("extra")])
    assert len(pids) == 2
    assert "127.0.0.1" in str(caught.value)
    assert isinstance(caught.value, StoreUnavailableError)

    pg_store._in_append_hook = None
    assert _ids(await pg_store.load(KEY)) == ["msg_0u", "msg_0a"]
    assert (await pg_store.append(KEY, make_turn(1))).stored == 2  # the caller's retry lands
    seqs = await admin.fetch(f"SELECT seq FROM {pg_store.names.items} ORDER BY seq")
    assert [row["seq"] for row in seqs] == [1, 2, 3, 4]


@pytest.mark.asyncio
async def test_pooled_connection_killed_between_appends_is_replaced(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    async with open_postgres_store(dsn, schema=schema, pool_min_size=1, pool_max_size=1) as store:
        pids: list[int] = []

        async def record(conn: Connection) -> None:
            pids.append(conn.get_server_pid())

        store._in_append_hook = record
        await store.append(KEY, make_turn(0))
        await terminate(admin, pids[0])  # the idle connection in the pool dies
        assert (await store.append(KEY, make_turn(1))).stored == 2
        assert pids[-1] != pids[0]
        await terminate(admin, pids[-1])
        assert _ids(await store.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_appends_from_two_replicas_take_turns_on_the_session_lock(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    """A writer paused inside its transaction holds the session; the other replica waits, then follows."""
    async with (
        open_postgres_store(dsn, schema=schema) as first,
        open_postgres_store(dsn, schema=schema) as second,
    ):
        await first.append(KEY, make_turn(0))
        slow, release = await paused_append(first, make_turn(1))
        pids: list[int] = []

        async def record(conn: Connection) -> None:
            pids.append(conn.get_server_pid())

        second._in_append_hook = record
        fast = asyncio.create_task(second.append(KEY, make_turn(2)))
        for _ in range(500):  # until the second replica's backend waits for the row lock
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
                f'%"{schema}".%',
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting == 1 and not fast.done()
        assert _ids(await second.load(KEY)) == ["msg_0u", "msg_0a"]  # readers are not blocked
        release.set()
        assert (await slow).stored == 2 and (await fast).stored == 2
        assert _ids(await second.load(KEY)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]


@pytest.mark.asyncio
async def test_unreachable_server_raises_a_clear_error_without_the_password() -> None:
    store = open_postgres_store("postgresql://postgres:s3cret@127.0.0.1:1/test", connect_timeout=5)
    with pytest.raises(
        PostgresUnavailableError, match=r"Cannot connect to PostgreSQL at postgresql://postgres:\*\*\*@"
    ):
        await store.load(KEY)
    with pytest.raises(PostgresUnavailableError) as caught:
        await store.append(KEY, make_turn(0))
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, StoreUnavailableError) and isinstance(caught.value, ConnectionError)
    await store.aclose()


@pytest.mark.asyncio
async def test_a_call_that_finds_every_connection_busy_waits_acquire_timeout_then_says_so(
    dsn: str, schema: str
) -> None:
    """With a connection idle the store acquires without arming a timeout; with none, acquire_timeout holds."""
    store = open_postgres_store(dsn, schema=schema, pool_max_size=1, acquire_timeout=0.3)
    try:
        await store.append(KEY, make_turn(0))  # the one connection, idle again
        append, release = await paused_append(store, make_turn(1))
        started = asyncio.get_running_loop().time()
        with pytest.raises(PostgresUnavailableError, match=r"came free within 0.3 s for load; all 1 are busy"):
            await store.load(KEY)
        assert 0.25 <= asyncio.get_running_loop().time() - started < 5
        release.set()
        assert (await append).stored == 2
        assert _ids(await store.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]  # idle again: served at once
    finally:
        await store.aclose()
