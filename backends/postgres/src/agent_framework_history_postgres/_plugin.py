"""Entry-point module: offers the ``postgres`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._store import open_postgres_store

    return open_postgres_store(target, **options)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "postgres",
        _factory,
        schemes=("postgresql", "postgres"),
        description="PostgreSQL shared by many replicas (postgresql://user@host:5432/db?schema=...)",
    )
