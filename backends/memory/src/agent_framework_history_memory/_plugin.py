"""Entry-point module: offers the ``memory`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._store import memory_store_from_target

    return memory_store_from_target(target)


def _response_store(target: StoreTarget, /) -> Any:
    from ._hosting import memory_response_store_from_target

    return memory_response_store_from_target(target)


def _session_records(target: StoreTarget, /) -> Any:
    from ._hosting import memory_session_records_from_target

    return memory_session_records_from_target(target)


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
