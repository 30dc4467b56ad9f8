"""Entry-point module: offers the ``sqlite`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._store import open_sqlite_store

    return open_sqlite_store(target, **options)


def _response_store(target: str, /, **options: Any) -> Any:
    from ._hosting import open_sqlite_response_store

    return open_sqlite_response_store(target, **options)


def _session_records(target: str, /, **options: Any) -> Any:
    from ._hosting import open_sqlite_session_records

    return open_sqlite_session_records(target, **options)


def _exists(target: str, /) -> bool:
    from ._config import parse_target
    from ._files import exists, locate

    config = parse_target(target, {})
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
