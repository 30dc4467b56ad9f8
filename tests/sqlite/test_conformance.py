from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent_framework_history import Capability, HistoryStore
from agent_framework_history.testing import HistoryStoreConformance
from agent_framework_history_sqlite import SQLiteHistoryStore


class TestSQLiteFileConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteHistoryStore]:
        store = SQLiteHistoryStore(tmp_path / "history.db")
        yield store
        await store.aclose()

    def process_target(self, store: HistoryStore) -> tuple[str, dict[str, Any]]:
        assert isinstance(store, SQLiteHistoryStore) and store.path is not None
        return f"sqlite:///{store.path.as_posix()}", {}


class TestSQLiteMemoryConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[SQLiteHistoryStore]:
        store = SQLiteHistoryStore(":memory:")
        yield store
        await store.aclose()


@pytest.mark.asyncio
async def test_file_store_declares_every_capability(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        assert store.capabilities == frozenset(Capability) - {Capability.CHECK, Capability.REPAIR}


@pytest.mark.asyncio
async def test_memory_store_is_neither_persistent_nor_shared_between_processes() -> None:
    async with SQLiteHistoryStore(":memory:") as store:
        assert Capability.PERSISTENT not in store.capabilities
        assert Capability.MULTI_PROCESS not in store.capabilities
        assert Capability.LIST_SESSIONS in store.capabilities
