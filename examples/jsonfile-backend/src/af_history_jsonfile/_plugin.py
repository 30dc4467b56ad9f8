"""The module the entry point names: it tells agent-framework-history about the ``jsonfile`` backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, hookimpl


def _factory(target: str, /, **options: Any) -> HistoryStore:
    from ._store import open_jsonfile_store  # imported only when this backend is chosen

    return open_jsonfile_store(target, **options)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec("jsonfile", _factory, schemes=("jsonfile",), description="Every history in one JSON file")
