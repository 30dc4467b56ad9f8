"""``import`` and ``migrate`` append through one batching loop: 500 items per call, each batch continuing the last."""

from __future__ import annotations

from typing import Any

import pytest

from agent_framework_history import AppendResult, SessionKey
from agent_framework_history.backend import Item
from agent_framework_history.cli import import_records
from agent_framework_history.cli._batches import BATCH, append_in_batches
from agent_framework_history.cli._interchange import Record

from .conftest import ListStore


class HeadedStore(ListStore):
    """Records every append's size and head, and hands out a new head per call."""

    def __init__(self, target: str = "", **options: Any) -> None:
        super().__init__(target, **options)
        self.calls: list[tuple[SessionKey, int, str | None]] = []

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        self.calls.append((key, len(items), head))
        result = await super()._do_append(key, items, head)
        return AppendResult(result.stored, head=f"h{len(self.calls)}")


def items(count: int, prefix: str = "i") -> list[Item]:
    return [{"type": "message", "id": f"{prefix}{n}"} for n in range(count)]


@pytest.mark.asyncio
async def test_append_in_batches_chains_each_batch_to_the_last() -> None:
    async with HeadedStore() as store:
        key = SessionKey("s")
        sizes: list[int] = []
        stored, head = await append_in_batches(store, key, iter(items(2 * BATCH + 1)), on_batch=sizes.append)
        assert (stored, head) == (2 * BATCH + 1, "h3")
        assert store.calls == [(key, BATCH, None), (key, BATCH, "h1"), (key, 1, "h2")]
        assert sizes == [BATCH, BATCH, 1]
        assert await append_in_batches(store, key, [], head="h3") == (0, "h3")  # nothing to append: no call
        assert len(store.calls) == 3


@pytest.mark.asyncio
async def test_import_batches_runs_of_one_session_and_continues_a_session_that_comes_back() -> None:
    a, b = SessionKey("a"), SessionKey("b")
    records = [
        *(Record(a, item) for item in items(BATCH + 2, "a")),
        *(Record(b, item) for item in items(3, "b")),
        *(Record(a, item) for item in items(2, "z")),
    ]
    async with HeadedStore() as store:
        result = await import_records(store, records)
        assert (result.read, result.stored, result.sessions) == (BATCH + 7, BATCH + 7, 2)
        assert store.calls == [(a, BATCH, None), (a, 2, "h1"), (b, 3, None), (a, 2, "h2")]
