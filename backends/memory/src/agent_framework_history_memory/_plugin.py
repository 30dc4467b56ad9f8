"""Entry-point module: offers the ``memory`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._store import open_memory_store

    return open_memory_store(target, **options)


def _response_store(target: str, /, **options: Any) -> Any:
    from ._hosting import open_memory_response_store

    return open_memory_response_store(target, **options)


def _session_records(target: str, /, **options: Any) -> Any:
    from ._hosting import open_memory_session_records

    return open_memory_session_records(target, **options)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "memory",
        _factory,
        schemes=("memory",),
        description="In-process memory (memory://[name])",
        response_store=_response_store,
        session_records=_session_records,
    )
