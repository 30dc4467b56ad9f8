"""Entry-point module: offers the ``postgres`` backend to agent-framework-history.

Discovery must not import asyncpg (it is imported when a store is opened), but a backend whose
driver is missing must not be listed as working either: the hook asks the import system
whether asyncpg can be found, and raises ``ImportError`` when it cannot, which the registry
reports as this plugin's load error (``af-history backends`` shows it, ``open_store`` names it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

from agent_framework_history.backend import BackendSpec, HistoryStore, StoreTarget, hookimpl

DRIVER = "asyncpg"
"""The driver module this backend needs."""


def _factory(target: StoreTarget, /) -> HistoryStore:
    from ._config import settings_of
    from ._store import PostgresHistoryStore

    return PostgresHistoryStore(settings_of(target))


def _response_store(target: StoreTarget, /) -> Any:
    from ._config import settings_of
    from ._hosting import PostgresResponseStore

    return PostgresResponseStore(settings_of(target))


def _session_records(target: StoreTarget, /) -> Any:
    from ._config import settings_of
    from ._hosting import PostgresSessionRecords

    return PostgresSessionRecords(settings_of(target))


def missing_driver() -> str | None:
    """Why the backend cannot work here (asyncpg not installed), or ``None``; imports nothing."""
    try:
        found = importlib.util.find_spec(DRIVER) is not None
    except (ImportError, ValueError) as exc:
        return f"the PostgreSQL driver {DRIVER} cannot be found ({type(exc).__name__}: {exc})"
    if found:
        return None
    return (
        f"the PostgreSQL driver {DRIVER} is not installed; install it with"
        f" pip install 'asyncpg>=0.30' (or reinstall agent-framework-history-postgres)"
    )


@hookimpl
def history_store_backends() -> Iterator[BackendSpec]:
    problem = missing_driver()
    if problem is not None:
        raise ImportError(f"The postgres history backend cannot be used: {problem}")
    yield BackendSpec(
        "postgres",
        _factory,
        schemes=("postgresql", "postgres"),
        description="PostgreSQL shared by many replicas (postgresql://user@host:5432/db?schema=...)",
        response_store=_response_store,
        session_records=_session_records,
    )
