"""Entry-point module: offers the ``foundry`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._open import open_foundry_store

    return open_foundry_store(target, **options)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "foundry",
        _factory,
        schemes=("foundry",),
        description="Foundry hosted-agent storage (foundry://, foundry://host/path)",
    )
