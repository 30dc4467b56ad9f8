"""The jsonfile example passes the agent-framework-history conformance kit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from af_history_jsonfile import JsonFileHistoryStore

from agent_framework_history import available_backends, open_store
from agent_framework_history.backend import SessionKey
from agent_framework_history.testing import HistoryStoreConformance, make_turn


class TestJsonFileConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[JsonFileHistoryStore]:
        store = JsonFileHistoryStore(tmp_path / "history.json")
        yield store
        await store.aclose()


def test_backend_is_found_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "jsonfile"]
    assert info.distribution == "af-history-jsonfile"
    assert info.schemes == ("jsonfile",)
    assert info.error is None


@pytest.mark.asyncio
async def test_history_survives_reopening(tmp_path: Path) -> None:
    url = f"jsonfile://{tmp_path}/history.json"
    async with open_store(url) as store:
        await store.append(SessionKey("s"), make_turn(1))
    async with open_store(url) as store:
        assert [item["id"] for item in await store.load(SessionKey("s"))] == ["msg_1u", "msg_1a"]
