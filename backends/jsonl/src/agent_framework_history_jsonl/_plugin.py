"""Entry-point module: offers the ``jsonl`` backend to agent-framework-history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._url import open_jsonl_store

    return open_jsonl_store(target, **options)


def _exists(target: str, /) -> bool:
    import os

    from ._url import root_from_url

    return os.path.isdir(root_from_url(target))


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec(
        "jsonl",
        _factory,
        schemes=("jsonl",),
        exists=_exists,
        description="One append-only JSON-lines file per session (jsonl:///dir, jsonl://./dir)",
    )
