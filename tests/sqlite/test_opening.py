"""Opening a sqlite store never blocks the event loop: the file is opened on the store's worker thread."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from agent_framework_history import CorruptDataError, HistoryStoreProvider, SessionKey, open_store, open_store_async
from agent_framework_history.testing import make_turn
from agent_framework_history_sqlite import SQLiteHistoryStore

HOLD = 0.6
"""Seconds another connection holds the database locked while the store opens."""


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("af-history-sqlite")]


@contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """A database in rollback-journal mode, held by an exclusive lock of another connection until released."""
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE app (x)")
    setup.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


@asynccontextmanager
async def ticking() -> AsyncIterator[list[float]]:
    """A coroutine that records the time every 10 ms while the block runs."""
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        yield ticks
    finally:
        task.cancel()


def longest_gap(ticks: list[float], start: float, end: float) -> float:
    inside = [t for t in ticks if start <= t <= end]
    points = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(points))


@pytest.mark.asyncio
async def test_the_loop_keeps_running_while_the_open_waits_for_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with locked(path) as holder:
        loop = asyncio.get_running_loop()
        loop.call_later(HOLD, holder.execute, "ROLLBACK")  # released on the loop, so only if the loop runs
        async with ticking() as ticks:
            start = time.monotonic()
            store = open_store(f"sqlite:///{path}?busy_timeout=10")
            built = time.monotonic()
            await store.open()  # busy: the open retries on the worker until the lock goes
            opened = time.monotonic()
        try:
            assert built - start < 0.1, "open_store() waited for the file"
            assert opened - start >= HOLD * 0.9, "the open did not wait for the lock, so the test proves nothing"
            assert longest_gap(ticks, start, opened) < 0.25, "the event loop stalled during the open"
            assert len([t for t in ticks if start <= t <= opened]) >= 20
            await store.append(SessionKey("s"), make_turn(1))
            assert len(await store.load(SessionKey("s"))) == 2
        finally:
            await store.aclose()


@pytest.mark.asyncio
async def test_a_provider_loading_from_a_locked_store_does_not_stall_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    provider = HistoryStoreProvider(f"sqlite:///{path}")
    with locked(path) as holder:
        asyncio.get_running_loop().call_later(HOLD, holder.execute, "ROLLBACK")
        async with ticking() as ticks:
            start = time.monotonic()
            assert await provider.get_messages("s") == []  # the first call opens the file
            loaded = time.monotonic()
    try:
        assert loaded - start >= HOLD * 0.9
        assert longest_gap(ticks, start, loaded) < 0.25, "get_messages blocked the event loop while the store opened"
    finally:
        await provider.aclose()


@pytest.mark.asyncio
async def test_a_bad_file_is_reported_by_the_first_awaited_call_and_by_open(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"not a database\n" * 500)
    threads_before = store_threads()
    store = open_store(f"sqlite:///{path}")  # builds the store only
    with pytest.raises(CorruptDataError, match="garbage.db"):
        await store.load(SessionKey("s"))
    with pytest.raises(CorruptDataError, match="garbage.db"):  # tried again, and reported again
        await store.open()
    await store.aclose()
    with pytest.raises(CorruptDataError, match="garbage.db"):
        await open_store_async(f"sqlite:///{path}")
    with pytest.raises(CorruptDataError, match="garbage.db"):
        async with open_store(f"sqlite:///{path}"):
            pass
    assert store_threads() == threads_before  # the stores that failed to open were closed


@pytest.mark.asyncio
async def test_open_is_idempotent_and_a_direct_store_opens_lazily_too(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = SQLiteHistoryStore(path)
    assert not path.exists()  # nothing done yet
    assert await store.open() is store
    assert path.exists()
    assert await store.open() is store
    await store.append(SessionKey("s"), make_turn(1))
    await store.aclose()
    opened = await open_store_async(f"sqlite:///{path}", mode="ro")
    try:
        assert isinstance(opened, SQLiteHistoryStore) and opened.read_only == "it was opened with mode='ro'"
    finally:
        await opened.aclose()
