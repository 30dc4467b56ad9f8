"""Conversation-history storage for Microsoft Agent Framework.

Backends (memory, jsonl, sqlite, foundry, postgres, or your own) are separate distributions
found through the ``agent_framework_history`` entry-point group; :func:`open_store` picks one
from configuration, and :class:`HistoryStoreProvider` plugs it into an agent.
"""

from __future__ import annotations

from ._base import HistoryStoreBase, check_before, check_items, check_key, check_limit, unique_items
from ._context import RequestContext, bind_host_response, bind_request_context, current_request_context
from ._errors import (
    BackendConflictError,
    ConfigurationError,
    CorruptDataError,
    HistoryStoreError,
    StoreClosedError,
    UnknownBackendError,
    UnsupportedOperationError,
)
from ._hosting import open_response_store, open_session_records, open_session_store
from ._json import clone_item, clone_json, dumps_item, loads_item
from ._keys import ALL, AllPartitions, SessionKey
from ._lazy import lazy_exports
from ._plugins import (
    DISABLE_ENV,
    NAME,
    BackendInfo,
    BackendRegistry,
    BackendSpec,
    StoreFactory,
    StoreProbe,
    available_backends,
    get_registry,
    hookimpl,
    hookspec,
    set_registry,
)
from ._provider import HEAD_STATE_KEY, HistoryStoreProvider
from ._selector import (
    CONFIG_ENV,
    HOSTED_STORE_ENV,
    STORE_ENV,
    Selection,
    is_hosted,
    open_store,
    open_store_async,
    resolve_target,
)
from ._session_store import DurableSessionStore, SessionConflictError, SessionRecords, SessionStoreProvider
from ._store import AppendResult, Capability, ChainTail, HistoryStore, Item, SessionActivity
from ._target import StoreTarget, parse_target
from ._urls import url_query_options
from ._version import __version__

__all__ = [
    "ALL",
    "CONFIG_ENV",
    "DISABLE_ENV",
    "HEAD_STATE_KEY",
    "HOSTED_STORE_ENV",
    "NAME",
    "STORE_ENV",
    "AllPartitions",
    "AppendResult",
    "BackendConflictError",
    "BackendInfo",
    "BackendRegistry",
    "BackendSpec",
    "Capability",
    "ChainTail",
    "ConfigurationError",
    "CorruptDataError",
    "DurableSessionStore",
    "HistoryStore",
    "HistoryStoreBase",
    "HistoryStoreError",
    "HistoryStoreProvider",
    "Item",
    "RequestContext",
    "Selection",
    "SessionActivity",
    "SessionConflictError",
    "SessionKey",
    "SessionRecords",
    "SessionStoreProvider",
    "StoreClosedError",
    "StoreFactory",
    "StoreProbe",
    "StoreTarget",
    "UnknownBackendError",
    "UnsupportedOperationError",
    "__version__",
    "available_backends",
    "bind_host_response",
    "bind_request_context",
    "check_before",
    "check_items",
    "clone_item",
    "clone_json",
    "dumps_item",
    "loads_item",
    "check_key",
    "check_limit",
    "current_request_context",
    "get_registry",
    "hookimpl",
    "hookspec",
    "is_hosted",
    "lazy_exports",
    "open_response_store",
    "open_session_records",
    "open_session_store",
    "open_store",
    "open_store_async",
    "parse_target",
    "resolve_target",
    "set_registry",
    "unique_items",
    "url_query_options",
]
