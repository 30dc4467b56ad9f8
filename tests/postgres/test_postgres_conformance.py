from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from agent_framework_history import HistoryStore
from agent_framework_history.testing import HistoryStoreConformance
from agent_framework_history_postgres import PostgresHistoryStore


class TestPostgresConformance(HistoryStoreConformance):
    @pytest_asyncio.fixture
    async def store(self, pg_store: PostgresHistoryStore) -> AsyncIterator[PostgresHistoryStore]:
        yield pg_store

    def process_target(self, store: HistoryStore) -> tuple[str, dict[str, Any]]:
        assert isinstance(store, PostgresHistoryStore)
        settings = store.settings
        return settings.dsn, {"schema": settings.schema, "table_prefix": settings.table_prefix}
