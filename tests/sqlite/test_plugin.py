from __future__ import annotations

import pytest

from agent_framework_history import available_backends, open_store
from agent_framework_history_sqlite import SQLiteHistoryStore


def test_sqlite_backend_is_discovered_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "sqlite"]
    assert info.distribution == "agent-framework-history-sqlite"
    assert info.schemes == ("sqlite",)
    assert info.error is None


@pytest.mark.asyncio
async def test_open_store_passes_options_to_the_store() -> None:
    store = open_store("sqlite:///:memory:", busy_timeout=3, synchronous="full")
    try:
        assert isinstance(store, SQLiteHistoryStore)
        assert (store.config.busy_timeout, store.config.synchronous) == (3.0, "full")
        assert store.path is None
    finally:
        await store.aclose()
