"""Conversation-history storage for Microsoft Agent Framework.

Backends (memory, jsonl, sqlite, foundry, postgres, or your own) are separate distributions
found through the ``agent_framework_history`` entry-point group; :func:`open_store` picks one
from configuration, and :class:`HistoryStoreProvider` plugs it into an agent.

This namespace holds what an application opens, calls, catches and annotates. What a backend
author needs is in :mod:`agent_framework_history.backend`.
"""

from __future__ import annotations

from typing import Final

from ._context import RequestContext, bind_host_response, bind_request_context, current_request_context
from ._errors import (
    BackendConflictError,
    ConfigurationError,
    CorruptDataError,
    HistoryStoreError,
    InvalidArgumentError,
    SchemaVersionError,
    StoreClosedError,
    StoreUnavailableError,
    UnknownBackendError,
    UnsupportedOperationError,
)
from ._hosting import open_response_store, open_session_store
from ._keys import ALL, SessionKey
from ._lazy import lazy_exports as _lazy_exports
from ._plugins import BackendInfo, available_backends
from ._provider import HistoryStoreProvider
from ._selector import Selection, is_hosted, open_store, open_store_async, resolve_target
from ._session_store import DurableSessionStore, SessionConflictError, SessionStoreProvider
from ._store import AppendResult, Capability, ChainTail, HistoryStore, Item, SessionActivity
from ._version import __version__

__all__ = [
    "ALL",
    "AppendResult",
    "BackendConflictError",
    "BackendInfo",
    "Capability",
    "ChainTail",
    "ConfigurationError",
    "CorruptDataError",
    "DurableSessionStore",
    "HistoryStore",
    "HistoryStoreError",
    "HistoryStoreProvider",
    "InvalidArgumentError",
    "Item",
    "RequestContext",
    "SchemaVersionError",
    "Selection",
    "SessionActivity",
    "SessionConflictError",
    "SessionKey",
    "SessionStoreProvider",
    "StoreClosedError",
    "StoreUnavailableError",
    "UnknownBackendError",
    "UnsupportedOperationError",
    "__version__",
    "available_backends",
    "bind_host_response",
    "bind_request_context",
    "current_request_context",
    "is_hosted",
    "open_response_store",
    "open_session_store",
    "open_store",
    "open_store_async",
    "resolve_target",
]

_BACKEND: Final = "import it from agent_framework_history.backend"


def _internal(home: str, hint: str) -> str:
    return f"it is internal ({home}); {hint}"


#: Names that left the top level, their module, and what the DeprecationWarning says to do instead.
_MOVED: Final[dict[str, tuple[str, str]]] = {
    **{
        name: ("agent_framework_history.backend", _BACKEND)
        for name in (
            "AllPartitions",
            "BackendSpec",
            "HistoryStoreBase",
            "SessionRecords",
            "StoreFactory",
            "StoreProbe",
            "check_before",
            "check_items",
            "check_key",
            "check_limit",
            "clone_item",
            "clone_json",
            "dumps_item",
            "hookimpl",
            "lazy_exports",
            "loads_item",
            "unique_items",
        )
    },
    "url_query_options": (
        "._urls",
        "it is kept in agent_framework_history._urls for old backends; a factory now receives a StoreTarget with"
        " the options parsed (agent_framework_history.backend.parse_target(url).query reads a query)",
    ),
    "open_session_records": (
        "._hosting",
        "use open_session_store(target).records",
    ),
    "BackendRegistry": ("._plugins", _internal("agent_framework_history._plugins", "tests may use it from there")),
    "get_registry": ("._plugins", _internal("agent_framework_history._plugins", "available_backends() lists them")),
    "set_registry": ("._plugins", _internal("agent_framework_history._plugins", "tests may use it from there")),
    "hookspec": ("._plugins", _internal("agent_framework_history._plugins", "backends use hookimpl from .backend")),
    "NAME": (
        "._plugins",
        _internal("agent_framework_history._plugins", "the entry-point group is the string 'agent_framework_history'"),
    ),
    "DISABLE_ENV": (
        "._plugins",
        _internal("agent_framework_history._plugins", "the variable is AF_HISTORY_DISABLE_PLUGINS"),
    ),
    "STORE_ENV": ("._selector", _internal("agent_framework_history._selector", "the variable is AF_HISTORY_STORE")),
    "CONFIG_ENV": ("._selector", _internal("agent_framework_history._selector", "the variable is AF_HISTORY_CONFIG")),
    "HOSTED_STORE_ENV": (
        "._selector",
        _internal("agent_framework_history._selector", "the variable is AF_HISTORY_HOSTED_STORE"),
    ),
    "HEAD_STATE_KEY": ("._provider", _internal("agent_framework_history._provider", "the provider keeps its state")),
}

__getattr__, __dir__ = _lazy_exports(
    __name__,
    {name: home for name, (home, _) in _MOVED.items()},
    __all__,
    moved={name: hint for name, (_, hint) in _MOVED.items()},
)
