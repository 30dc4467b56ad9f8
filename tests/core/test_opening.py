"""Opening a store: open_store builds it, open() / async with / open_store_async open it now."""

from __future__ import annotations

from typing import Any

import pytest

from agent_framework_history import HistoryStoreError, open_store, open_store_async
from agent_framework_history._plugins import BackendRegistry
from agent_framework_history.backend import BackendSpec, StoreTarget, hookimpl

from .conftest import ListStore


class OpeningStore(ListStore):
    """Counts its opens; fails the first ``failures`` of them."""

    def __init__(self, target: str = "", **options: Any) -> None:
        super().__init__(target, **options)
        self.failures = int(options.get("failures", 0))
        self.opens = 0
        self.close_calls = 0

    async def _do_open(self) -> None:
        self.opens += 1
        if self.opens <= self.failures:
            raise HistoryStoreError(f"cannot open {self.target} (attempt {self.opens})")

    async def _do_close(self) -> None:
        self.close_calls += 1


built: list[OpeningStore] = []


def factory(target: StoreTarget, /) -> OpeningStore:
    store = OpeningStore(target.url, **target.options)
    built.append(store)
    return store


@pytest.fixture
def registry() -> BackendRegistry:
    class Plugin:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            return [BackendSpec("opening", factory)]

    registry = BackendRegistry(load_entry_points=False)
    registry.register(Plugin())
    built.clear()
    return registry


@pytest.mark.asyncio
async def test_open_store_builds_and_open_opens_and_tries_again_after_a_failure(registry: BackendRegistry) -> None:
    store = open_store("opening://x?failures=1", registry=registry)
    assert isinstance(store, OpeningStore) and store.opens == 0
    with pytest.raises(HistoryStoreError, match="attempt 1"):
        await store.open()
    assert await store.open() is store
    assert store.opens == 2 and store.close_calls == 0
    await store.aclose()
    with pytest.raises(HistoryStoreError, match=r"open\(\) was called after aclose\(\)"):
        await store.open()


@pytest.mark.asyncio
async def test_open_store_async_opens_now_and_closes_what_it_built_when_that_fails(registry: BackendRegistry) -> None:
    store = await open_store_async("opening://x", registry=registry)
    assert isinstance(store, OpeningStore) and store.opens == 1
    await store.aclose()
    with pytest.raises(HistoryStoreError, match="attempt 1"):
        await open_store_async("opening://y?failures=1", registry=registry)
    assert built[-1].close_calls == 1 and built[-1].closed


@pytest.mark.asyncio
async def test_a_store_passed_in_is_opened_but_stays_the_callers_when_it_fails() -> None:
    mine = OpeningStore("mine", failures=1)
    with pytest.raises(HistoryStoreError, match="attempt 1"):
        await open_store_async(mine)
    assert not mine.closed
    assert await open_store_async(mine) is mine and mine.opens == 2
    await mine.aclose()


@pytest.mark.asyncio
async def test_async_with_opens_and_closes_a_store_that_fails_to_open(registry: BackendRegistry) -> None:
    async with open_store("opening://x", registry=registry) as store:
        assert isinstance(store, OpeningStore) and store.opens == 1
    assert store.closed
    with pytest.raises(HistoryStoreError, match="attempt 1"):
        async with open_store("opening://y?failures=1", registry=registry):
            pytest.fail("entered a store that did not open")
    assert built[-1].closed and built[-1].close_calls == 1
