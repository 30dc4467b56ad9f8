"""The kit run against the core's own minimal store: the kit itself must pass on a correct store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from agent_framework_history.testing import HistoryStoreConformance

from .conftest import ListStore


class TestListStore(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[ListStore]:
        store = ListStore()
        yield store
        await store.aclose()
