from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from agent_framework_history.testing import HistoryStoreConformance
from agent_framework_history_postgres import PostgresHistoryStore


class TestPostgresConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, pg_store: PostgresHistoryStore) -> AsyncIterator[PostgresHistoryStore]:
        yield pg_store
