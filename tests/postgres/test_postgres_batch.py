"""Appends that find every connection busy are sent together: the batcher alone, then on the real server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from agent_framework_history import SessionKey
from agent_framework_history.testing import make_turn
from agent_framework_history_postgres import PostgresHistoryStore, open_postgres_store
from agent_framework_history_postgres._batch import Batcher

Args = tuple[str, int]


class FakeServer:
    """Answers ``(key, n)`` with ``f"{key}:{n}"``, one call at a time per connection, and records the calls."""

    def __init__(self, *, fail_batches: bool = False, bad: set[Args] | None = None) -> None:
        self.calls: list[list[Args]] = []
        self.fail_batches = fail_batches
        self.bad = bad or set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def one(self, args: Args) -> str:
        self.calls.append([args])
        await self.gate.wait()
        await asyncio.sleep(0)
        if args in self.bad:
            raise ValueError(f"refused {args}")
        return f"{args[0]}:{args[1]}"

    async def many(self, batch: Sequence[Args]) -> list[str]:
        self.calls.append(list(batch))
        await self.gate.wait()
        if self.fail_batches:
            raise RuntimeError("the batch failed")
        return [f"{key}:{n}" for key, n in batch]


def batcher(server: FakeServer, limit: int = 2, most: int = 64) -> Batcher[Args, str]:
    return Batcher(server.one, server.many, limit=limit, most=most, order=lambda args: (args[0],))


@pytest.mark.asyncio
async def test_calls_within_the_limit_go_alone_and_the_overflow_goes_together_in_key_order() -> None:
    server = FakeServer()
    server.gate.clear()  # the first two calls hold both "connections"
    runner = batcher(server, limit=2)
    calls = [asyncio.create_task(runner.run((key, n))) for n, key in enumerate("bbacab")]
    await asyncio.sleep(0.01)
    assert server.calls == [[("b", 0)], [("b", 1)]]  # alone, at once
    server.gate.set()
    assert await asyncio.gather(*calls) == ["b:0", "b:1", "a:2", "c:3", "a:4", "b:5"]
    # The four that waited went in one batch, by key, each key's calls in the order they came.
    assert server.calls[2:] == [[("a", 2), ("a", 4), ("b", 5), ("c", 3)]]


@pytest.mark.asyncio
async def test_a_batch_holds_at_most_most_calls() -> None:
    server = FakeServer()
    server.gate.clear()
    runner = batcher(server, limit=1, most=3)
    calls = [asyncio.create_task(runner.run(("k", n))) for n in range(8)]
    await asyncio.sleep(0.01)
    server.gate.set()
    assert await asyncio.gather(*calls) == [f"k:{n}" for n in range(8)]
    assert [len(call) for call in server.calls] == [1, 3, 3, 1]


@pytest.mark.asyncio
async def test_a_failed_batch_is_sent_again_one_by_one_and_each_caller_gets_its_own_outcome() -> None:
    server = FakeServer(fail_batches=True, bad={("b", 2)})
    server.gate.clear()
    runner = batcher(server, limit=1)
    calls = [asyncio.create_task(runner.run((key, n))) for n, key in enumerate("xabc")]
    await asyncio.sleep(0.01)
    server.gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[0] == "x:0" and results[1] == "a:1" and results[3] == "c:3"
    assert isinstance(results[2], ValueError) and "refused" in str(results[2])
    assert server.calls[1] == [("a", 1), ("b", 2), ("c", 3)]  # the batch, then each alone
    assert server.calls[2:] == [[("a", 1)], [("b", 2)], [("c", 3)]]


@pytest.mark.asyncio
async def test_a_caller_that_stops_waiting_is_not_sent_and_closing_fails_the_queue() -> None:
    server = FakeServer()
    server.gate.clear()
    runner = batcher(server, limit=1)
    first = asyncio.create_task(runner.run(("a", 0)))
    gone = asyncio.create_task(runner.run(("b", 1)))
    kept = asyncio.create_task(runner.run(("c", 2)))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0)
    server.gate.set()
    assert await first == "a:0" and await kept == "c:2"
    assert ("b", 1) not in [args for call in server.calls for args in call]

    server.gate.clear()
    held = asyncio.create_task(runner.run(("d", 3)))
    queued = asyncio.create_task(runner.run(("e", 4)))
    await asyncio.sleep(0.01)
    await runner.aclose(lambda: RuntimeError("closed"))
    with pytest.raises(RuntimeError, match="closed"):
        await queued
    server.gate.set()
    assert await held == "d:3"  # sent alone before the close: its caller's own call finishes
    assert ("e", 4) not in [args for call in server.calls for args in call]


@pytest.mark.asyncio
async def test_many_writers_on_few_connections_lose_and_reorder_nothing(dsn: str, schema: str) -> None:
    """100 writers on 2 connections: the overflow goes in batches; every chain holds its turns, in order."""
    store = open_postgres_store(dsn, schema=schema, pool_min_size=2, pool_max_size=2)
    batches: list[int] = []
    send_many = store._append_many

    async def counted(batch: Any) -> Any:
        batches.append(len(batch))
        return await send_many(batch)

    store._batcher._send_many = counted
    own = [SessionKey(f"own-{w}", user="u") for w in range(80)]
    shared = SessionKey("shared", user="u")

    async def writer(w: int) -> None:
        for n in range(3):
            result = await store.append(own[w], make_turn(100 * w + n))
            assert result.stored == 2 and result.head is not None

    async def sharer(w: int) -> None:
        await store.append(shared, make_turn(9000 + w))

    try:
        await asyncio.gather(*(writer(w) for w in range(80)), *(sharer(w) for w in range(20)))
        assert batches and max(batches) > 1  # the overflow really went together
        for w, key in enumerate(own):
            expected = [f"msg_{100 * w + n}{r}" for n in range(3) for r in "ua"]
            assert [i["id"] for i in await store.load(key)] == expected
        loaded = [i["id"] for i in await store.load(shared)]
        assert sorted(loaded) == sorted(f"msg_{9000 + w}{r}" for w in range(20) for r in "ua")
        assert all(loaded.index(f"msg_{9000 + w}u") + 1 == loaded.index(f"msg_{9000 + w}a") for w in range(20))
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_batched_appends_keep_the_single_appends_answers(
    dsn: str, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Replays, forks and unknown heads give the same results in a batch as alone."""
    store = open_postgres_store(dsn, schema=schema, pool_min_size=1, pool_max_size=1)
    try:
        key = SessionKey("s", user="u")
        first = await store.append(key, make_turn(0))
        second = await store.append(key, make_turn(1))
        batched = await _one_batch(
            store,
            [
                (key, make_turn(1), None),  # a replay of the latest turn: nothing new
                (key, make_turn(2), first.head),  # a fork from the first turn
                (SessionKey("t", user="u"), make_turn(3), "turn_" + "0" * 32),  # a head the session lacks
            ],
        )
        replay, fork, unknown = batched
        assert replay.stored == 0 and replay.head == second.head
        assert fork.stored == 2 and fork.head not in (None, first.head, second.head)
        assert [i["id"] for i in await store.load(key, head=fork.head)] == ["msg_0u", "msg_0a", "msg_2u", "msg_2a"]
        assert unknown.stored == 2
        assert "has no such turn" in caplog.text
    finally:
        await store.aclose()


async def _one_batch(store: PostgresHistoryStore, appends: list[tuple[SessionKey, Any, str | None]]) -> list[Any]:
    """Run ``appends`` while the only connection is busy with another append, so they queue and go as one batch."""
    batches: list[int] = []
    send_one, send_many = store._batcher._send_one, store._batcher._send_many

    async def counted(batch: Any) -> Any:
        batches.append(len(batch))
        return await send_many(batch)

    gate = asyncio.Event()

    async def held(args: Any) -> Any:
        await gate.wait()
        return await send_one(args)

    store._batcher._send_one, store._batcher._send_many = held, counted
    holder = asyncio.create_task(store.append(SessionKey("holder", user="u"), make_turn(99)))
    await asyncio.sleep(0.01)
    tasks = [asyncio.create_task(store.append(key, items, head=head)) for key, items, head in appends]
    await asyncio.sleep(0.01)
    store._batcher._send_one = send_one
    gate.set()
    assert (await holder).stored == 2
    results = await asyncio.gather(*tasks)
    assert batches == [len(appends)]
    return results
