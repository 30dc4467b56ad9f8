"""Entry-point module: offers the ``foundry`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._open import foundry_store_from_target

    return foundry_store_from_target(target)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "foundry",
        _factory,
        schemes=("foundry",),
        description="Foundry hosted-agent storage (foundry://, foundry://host/path)",
    )
