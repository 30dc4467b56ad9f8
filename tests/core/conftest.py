from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

from agent_framework_history import AppendResult, Capability, HistoryStore, Item, SessionKey
from agent_framework_history._plugins import BackendRegistry, set_registry
from agent_framework_history.backend import (
    AllPartitions,
    BackendSpec,
    HistoryStoreBase,
    StoreTarget,
    clone_item,
    hookimpl,
)


class ListStore(HistoryStoreBase):
    """The smallest correct store, so the core's tests need no backend distribution."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LIST_SESSIONS, Capability.DELETE, Capability.CONCURRENT_APPEND}
    )

    def __init__(self, target: str = "", **options: Any) -> None:
        super().__init__()
        self.target = target
        self.options = options
        self.data: dict[SessionKey, list[Item]] = {}

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        stored = self.data.setdefault(key, [])
        known = {i["id"] for i in stored}
        fresh = [i for i in items if i["id"] not in known]
        stored.extend(fresh)
        return AppendResult(len(fresh))

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        items = self.data.get(key, [])
        return [clone_item(i) for i in (items if limit is None else items[-limit:])]

    async def _do_delete(self, key: SessionKey) -> bool:
        return self.data.pop(key, None) is not None

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        for key in list(self.data):
            if key.matches(user, chat):
                yield key


def list_store(target: StoreTarget, /) -> ListStore:
    """The factory of the test backends: a ListStore holding the target's URL and options."""
    return ListStore(target.url, **target.options)


def plugin_for(name: str, *schemes: str, description: str = "") -> object:
    class Plugin:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            return [BackendSpec(name, list_store, schemes=schemes, description=description)]

    return Plugin()


@pytest.fixture
def registry() -> Iterator[BackendRegistry]:
    """A fresh registry holding only what the test registers, installed as the process-wide one."""
    fresh = BackendRegistry(load_entry_points=False)
    old = set_registry(fresh)
    try:
        yield fresh
    finally:
        set_registry(old)


def opened(store: HistoryStore) -> ListStore:
    assert isinstance(store, ListStore)
    return store
