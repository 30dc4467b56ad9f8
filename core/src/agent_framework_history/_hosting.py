"""``open_response_store`` and ``open_session_store``: the hosting SDK's stores on this project's backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError
from ._plugins import BackendRegistry, BackendSpec, get_registry
from ._selector import chosen_target, find_backend
from ._session_store import SessionRecords, SessionStoreProvider
from ._target import StoreTarget

if TYPE_CHECKING:
    from azure.ai.agentserver.responses import ResponseProviderProtocol

__all__ = ["open_response_store", "open_session_records", "open_session_store"]


def open_response_store(
    target: str | None = None, *, registry: BackendRegistry | None = None, **options: Any
) -> ResponseProviderProtocol:
    """Open the hosting SDK's response store (``ResponseProviderProtocol``) on a backend.

    The same URLs and selector rules as :func:`open_store` (``None``: ``AF_HISTORY_STORE``, the
    config file, the embedded default; ``foundry://`` when hosted). Give the result to
    ``ResponsesHostServer(agent, response_store=...)``: several host processes sharing one sqlite
    file or one postgres schema continue each other's response chains, and what the host stores
    is what ``af-history`` lists, shows and exports.
    """
    registry = registry or get_registry()
    spec, parsed = _offering(target, registry, "response_store", "a response store", options)
    assert spec.response_store is not None  # _offering checked it
    store: ResponseProviderProtocol = spec.response_store(parsed)
    return store


def open_session_records(
    target: str | None = None, *, registry: BackendRegistry | None = None, **options: Any
) -> SessionRecords:
    """Open a backend's versioned session records (what :func:`open_session_store` builds on)."""
    registry = registry or get_registry()
    spec, parsed = _offering(target, registry, "session_records", "an agent session store", options)
    assert spec.session_records is not None  # _offering checked it
    records: SessionRecords = spec.session_records(parsed)
    return records


def open_session_store(
    target: str | None = None, *, registry: BackendRegistry | None = None, **options: Any
) -> SessionStoreProvider:
    """Open a durable agent session store on a backend, with optimistic concurrency.

    The result serves both hosts: ``ResponsesHostServer(agent, agent_session_store_provider=it)``
    (a store per request, scoped to the user and the platform agent session), and app-owned
    routes through ``it.get_store(...)`` or ``DurableSessionStore(it.records)`` for
    ``AgentState(session_store=...)``. A write based on a stale read raises
    :class:`SessionConflictError`.
    """
    return SessionStoreProvider(open_session_records(target, registry=registry, **options))


def _offering(
    target: str | None, registry: BackendRegistry, field: str, what: str, options: dict[str, Any]
) -> tuple[BackendSpec, StoreTarget]:
    """The chosen backend and target, or a ``ConfigurationError`` naming the installed backends that offer ``field``."""
    spec, parsed = find_backend(chosen_target(target, registry), registry, **options)
    if getattr(spec, field) is None:
        offering = sorted(i.name for i in registry.available() if i.ok and _offers(registry, i.name, field))
        raise ConfigurationError(
            f"The {spec.name!r} backend does not offer {what} (target {parsed.redacted!r}); "
            f"use one that does: {', '.join(offering) or 'none is installed (install agent-framework-history-sqlite)'}."
        )
    return spec, parsed


def _offers(registry: BackendRegistry, name: str, field: str) -> bool:
    try:
        return getattr(registry.by_name(name), field) is not None
    except Exception:  # a backend that cannot be used offers nothing
        return False
