from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from agent_framework_history_jsonl import JsonlHistoryStore


@pytest_asyncio.fixture
async def jsonl_store(tmp_path: Path) -> AsyncIterator[JsonlHistoryStore]:
    store = JsonlHistoryStore(tmp_path / "history")
    yield store
    await store.aclose()
