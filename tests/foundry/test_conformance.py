"""The conformance kit against the SDK's own in-memory response provider (partitioned by user in 2.4+)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from azure.ai.agentserver.responses import InMemoryResponseProvider

from agent_framework_history.testing import HistoryStoreConformance
from agent_framework_history_foundry import FoundryHistoryStore, open_foundry_store


class TestFoundryConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[FoundryHistoryStore]:
        store = open_foundry_store("foundry://", response_provider=InMemoryResponseProvider())
        yield store
        await store.aclose()
