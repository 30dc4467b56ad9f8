"""Entry-point module: offers the ``memory`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._store import open_memory_store

    return open_memory_store(target, **options)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec("memory", _factory, schemes=("memory",), description="In-process memory (memory://[name])")
