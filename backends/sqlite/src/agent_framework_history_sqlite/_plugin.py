"""Entry-point module: offers the ``sqlite`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._config import config_of
    from ._store import SQLiteHistoryStore

    return SQLiteHistoryStore.from_config(config_of(target))


def _response_store(target: StoreTarget, /) -> Any:
    from ._config import config_of
    from ._hosting import SQLiteResponseStore

    return SQLiteResponseStore(config_of(target))


def _session_records(target: StoreTarget, /) -> Any:
    from ._config import config_of
    from ._hosting import SQLiteSessionRecords

    return SQLiteSessionRecords(config_of(target))


def _exists(target: StoreTarget, /) -> bool:
    from ._config import config_of
    from ._files import exists, locate

    config = config_of(target)
    file = locate(config)
    return file is None or exists(file, config.describe())


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "sqlite",
        _factory,
        schemes=("sqlite",),
        exists=_exists,
        description="One SQLite database file, safe across processes (sqlite:///path.db)",
        response_store=_response_store,
        session_records=_session_records,
    )
