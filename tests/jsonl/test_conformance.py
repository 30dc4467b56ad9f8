from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from agent_framework_history import HistoryStore
from agent_framework_history.testing import HistoryStoreConformance
from agent_framework_history_jsonl import JsonlHistoryStore


class TestJsonlConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[JsonlHistoryStore]:
        store = JsonlHistoryStore(tmp_path / "history")
        yield store
        await store.aclose()

    def process_target(self, store: HistoryStore) -> tuple[str, dict[str, Any]]:
        assert isinstance(store, JsonlHistoryStore)
        return f"jsonl:///{Path(store.root).as_posix()}", {}


class TestJsonlConformanceThroughThreads(HistoryStoreConformance):
    """The same behaviour when every write goes through the thread pool and is fsynced."""

    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[JsonlHistoryStore]:
        store = JsonlHistoryStore(tmp_path / "history", durability="fsync", inline_write_limit=0, max_open_files=3)
        yield store
        await store.aclose()
