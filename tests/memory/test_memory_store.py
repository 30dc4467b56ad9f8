from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agent_framework_history import ConfigurationError, SessionKey, available_backends, open_store
from agent_framework_history.testing import HistoryStoreConformance, make_item
from agent_framework_history_memory import MemoryHistoryStore


class TestMemoryConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[MemoryHistoryStore]:
        store = MemoryHistoryStore()
        yield store
        await store.aclose()


def test_memory_backend_is_discovered_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "memory"]
    assert info.distribution == "agent-framework-history-memory"
    assert info.schemes == ("memory",)
    assert info.error is None


@pytest.mark.asyncio
async def test_named_stores_share_data_and_unnamed_do_not() -> None:
    key = SessionKey("s")
    a, b = open_store("memory://shared-test"), open_store("memory://shared-test")
    await a.append(key, [make_item(1)])
    assert [i["id"] for i in await b.load(key)] == ["msg_1"]
    private = open_store("memory://")
    assert await private.load(key) == []


@pytest.mark.parametrize("target", ["memory://x?y=1", "memory://x#frag"])
def test_bad_memory_urls_are_rejected(target: str) -> None:
    with pytest.raises(ConfigurationError, match="memory://"):
        open_store(target)


def test_memory_backend_takes_no_options() -> None:
    with pytest.raises(ConfigurationError, match="no options"):
        open_store("memory://", path="/tmp")


def test_threads_appending_to_a_named_store_all_land() -> None:
    key = SessionKey("threads")

    def worker(n: int) -> None:
        async def run() -> None:
            store = open_store("memory://threaded")
            for i in range(50):
                await store.append(key, [make_item(f"{n}-{i}")])

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def count() -> int:
        return len(await open_store("memory://threaded").load(key))

    assert asyncio.run(count()) == 200
