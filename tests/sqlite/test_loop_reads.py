"""Small reads answered on the event loop (``Database.glance``): the latest few items, the items after a turn.

They must give what the worker would, see other writers' commits at once, and hand anything large or
anything SQLite cannot answer at once to the worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent_framework_history import SessionKey
from agent_framework_history._base import WINDOW_SLACK
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_sqlite import SQLiteHistoryStore
from agent_framework_history_sqlite._store import GLANCE_MOST

from ._trips import Trips

KEY = SessionKey("s1", user="alice")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@pytest_asyncio.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SQLiteHistoryStore, SQLiteHistoryStore]]:
    async with SQLiteHistoryStore(tmp_path / "h.db") as first, SQLiteHistoryStore(tmp_path / "h.db") as second:
        yield first, second


@pytest.mark.asyncio
async def test_a_small_limited_load_is_read_here_and_sees_another_writer_at_once(
    stores: tuple[SQLiteHistoryStore, SQLiteHistoryStore],
) -> None:
    first, second = stores
    for n in range(30):
        await first.append(KEY, make_turn(n))
    trips = Trips(first._db)
    assert _ids(await first.load(KEY, limit=20)) == [f"msg_{n}{r}" for n in range(20, 30) for r in "ua"]
    assert trips.take() == 0
    await second.append(KEY, make_turn(30))  # another store on the file: another process, as far as first knows
    assert _ids(await first.load(KEY, limit=2)) == ["msg_30u", "msg_30a"]
    assert trips.take() == 0
    await second.delete(KEY)
    assert await first.load(KEY, limit=20) == []
    assert trips.take() == 0


@pytest.mark.asyncio
async def test_a_large_limited_load_goes_to_the_worker(stores: tuple[SQLiteHistoryStore, SQLiteHistoryStore]) -> None:
    first, _ = stores
    turns = GLANCE_MOST  # twice as many items as the loop reads
    for n in range(turns):
        await first.append(KEY, make_turn(n))
    whole = await first.load(KEY)
    most = GLANCE_MOST - WINDOW_SLACK  # a limited load reads WINDOW_SLACK items more than its limit
    trips = Trips(first._db)
    assert await first.load(KEY, limit=most + 1) == whole[-(most + 1) :]
    assert trips.take() == 1
    assert await first.load(KEY, limit=most) == whole[-most:]
    assert trips.take() == 0


@pytest.mark.asyncio
async def test_load_after_reads_a_few_new_items_here_and_many_on_the_worker(
    stores: tuple[SQLiteHistoryStore, SQLiteHistoryStore],
) -> None:
    first, second = stores
    base = await first.append(KEY, make_turn(0))
    trips = Trips(first._db)
    nothing = await first.load_after(KEY, base.head)
    assert (nothing.items, nothing.head, nothing.continues) == ([], base.head, True)
    tip = await second.append(KEY, make_turn(1))
    tail = await first.load_after(KEY, base.head)
    assert (_ids(tail.items), tail.head, tail.continues) == (["msg_1u", "msg_1a"], tip.head, True)
    assert trips.take() == 0
    # A fork from the base: the chain at its head continues the base too, and not the turn beside it.
    fork = await second.append(KEY, [make_item("fork")], head=base.head)
    tail = await first.load_after(KEY, base.head, head=fork.head)
    assert (_ids(tail.items), tail.continues) == (["msg_fork"], True)
    tail = await first.load_after(KEY, tip.head, head=fork.head)
    assert (_ids(tail.items), tail.continues) == (["msg_0u", "msg_0a", "msg_fork"], False)  # the whole chain
    assert trips.take() == 0
    # More than the loop reads after the head: the worker reads them, with the same answer.
    head = fork.head
    for n in range(2, GLANCE_MOST // 2 + 3):
        head = (await second.append(KEY, make_turn(n), head=head)).head
    tail = await first.load_after(KEY, fork.head)
    assert trips.take() == 1
    assert _ids(tail.items) == [f"msg_{n}{r}" for n in range(2, GLANCE_MOST // 2 + 3) for r in "ua"]
    assert (tail.head, tail.continues) == (head, True)
    # A caller with no head at all reads the whole chain: on the worker.
    await first.load_after(KEY, None)
    assert trips.take() == 1


@pytest.mark.asyncio
async def test_a_read_the_loop_cannot_answer_goes_to_the_worker_and_leaves_no_snapshot_open(
    stores: tuple[SQLiteHistoryStore, SQLiteHistoryStore],
) -> None:
    first, _ = stores
    base = await first.append(KEY, make_turn(0))
    await first.append(KEY, make_turn(1))
    assert first._db.glance(lambda conn: conn.execute("SELECT nothing FROM nowhere"), snapshot=True) is None
    glance = first._db._glance_conn
    assert glance is not None and not glance.in_transaction
    # A read that fails on the loop (here: its connection is gone) is asked of the worker.
    trips = Trips(first._db)
    glance.close()
    assert _ids(await first.load(KEY, limit=2)) == ["msg_1u", "msg_1a"]
    assert _ids((await first.load_after(KEY, base.head)).items) == ["msg_1u", "msg_1a"]
    assert trips.take() == 2


@pytest.mark.asyncio
async def test_in_memory_stores_read_on_the_worker() -> None:
    async with SQLiteHistoryStore(":memory:") as store:
        base = await store.append(KEY, make_turn(0))
        await store.append(KEY, make_turn(1))
        trips = Trips(store._db)
        assert _ids(await store.load(KEY, limit=2)) == ["msg_1u", "msg_1a"]
        assert _ids((await store.load_after(KEY, base.head)).items) == ["msg_1u", "msg_1a"]
        assert trips.take() == 2
        assert store._db._glance_conn is None
