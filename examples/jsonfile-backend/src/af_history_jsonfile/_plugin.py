"""The module the entry point names: it tells agent-framework-history about the ``jsonfile`` backend."""

from __future__ import annotations

from collections.abc import Iterator

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._store import jsonfile_store_from_target  # imported only when this backend is chosen

    return jsonfile_store_from_target(target)


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    yield BackendSpec("jsonfile", _factory, schemes=("jsonfile",), description="Every history in one JSON file")
