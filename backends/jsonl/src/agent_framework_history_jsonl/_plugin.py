"""Entry-point module: offers the ``jsonl`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._url import jsonl_store_from_target

    return jsonl_store_from_target(target)


def _exists(target: StoreTarget, /) -> bool:
    import os

    from ._url import root_of

    return os.path.isdir(root_of(target))


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "jsonl",
        _factory,
        schemes=("jsonl",),
        exists=_exists,
        description="One append-only JSON-lines file per session (jsonl:///dir, jsonl://./dir)",
    )
