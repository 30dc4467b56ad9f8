"""Everything a backend author needs, in one namespace: ``from agent_framework_history.backend import ...``.

A backend is a distribution whose ``history_store_backends`` hook (marked with :data:`hookimpl`, in a
module named by an ``agent_framework_history`` entry point) yields :class:`BackendSpec` objects; its store
subclasses :class:`HistoryStoreBase`. See the "Writing a backend" guide. Application code imports from
``agent_framework_history`` itself; this namespace repeats the store protocol's names (``SessionKey``,
``Item``, ``Capability``, …) so a backend needs only one import.

The conformance kits (``HistoryStoreConformance``, ``ResponseStoreConformance``,
``SessionRecordsConformance``) live in :mod:`agent_framework_history.testing` (the core's ``testing``
extra, which needs pytest); the names here load it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import HistoryStoreBase, check_before, check_head, check_items, check_key, check_limit, unique_items
from ._chains import ChainIndex, Turn, new_head
from ._context import current_request_context
from ._errors import (
    ConfigurationError,
    CorruptDataError,
    HistoryStoreError,
    InvalidArgumentError,
    SchemaVersionError,
    StoreClosedError,
    StoreUnavailableError,
    UnsupportedOperationError,
)
from ._json import clone_item, clone_json, dumps_item, loads_item, loads_items
from ._keys import ALL, AllPartitions, SessionKey
from ._lazy import lazy_exports
from ._plugins import BackendSpec, ExtraStoreFactory, StoreFactory, StoreProbe, hookimpl
from ._response_store import Chain, NewResponse, ResponseRow, ResponseStoreBase
from ._session_store import ABSENT, SessionConflictError, SessionRecords, Version, conflict
from ._storage_check import ProblemKind, StorageProblem, StorageRepair, StorageReport
from ._store import AppendResult, Capability, ChainTail, HistoryStore, Item, SessionActivity
from ._target import StoreTarget, local_path, parse_target, redact_url, scheme_of

if TYPE_CHECKING:
    from .testing import HistoryStoreConformance, ResponseStoreConformance, SessionRecordsConformance

__all__ = [
    # The hook and what it yields
    "BackendSpec",
    "ExtraStoreFactory",
    "StoreFactory",
    "StoreProbe",
    "hookimpl",
    # The target a factory receives, parsed once by the core
    "StoreTarget",
    "local_path",
    "parse_target",
    "redact_url",
    "scheme_of",
    # The store: protocol, base class and the values it passes around
    "ALL",
    "AllPartitions",
    "AppendResult",
    "Capability",
    "ChainTail",
    "HistoryStore",
    "HistoryStoreBase",
    "Item",
    "SessionActivity",
    "SessionKey",
    # Inspecting and repairing its own storage (Capability.CHECK / Capability.REPAIR)
    "ProblemKind",
    "StorageProblem",
    "StorageRepair",
    "StorageReport",
    # The checks every backend shares
    "check_before",
    "check_head",
    "check_items",
    "check_key",
    "check_limit",
    "unique_items",
    # JSON as every backend stores it
    "clone_item",
    "clone_json",
    "dumps_item",
    "loads_item",
    "loads_items",
    # Chains of turns kept in this process (memory, jsonl)
    "ChainIndex",
    "Turn",
    "new_head",
    # Packaging and the request a call serves
    "current_request_context",
    "lazy_exports",
    # Hosting: the response store and session records behind open_response_store / open_session_store
    "ABSENT",
    "Chain",
    "NewResponse",
    "ResponseRow",
    "ResponseStoreBase",
    "SessionRecords",
    "Version",
    "conflict",
    # The errors a backend raises
    "ConfigurationError",
    "CorruptDataError",
    "HistoryStoreError",
    "InvalidArgumentError",
    "SchemaVersionError",
    "SessionConflictError",
    "StoreClosedError",
    "StoreUnavailableError",
    "UnsupportedOperationError",
    # The conformance kits (agent_framework_history.testing, loaded on first use)
    "HistoryStoreConformance",
    "ResponseStoreConformance",
    "SessionRecordsConformance",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    dict.fromkeys(
        ["HistoryStoreConformance", "ResponseStoreConformance", "SessionRecordsConformance"],
        "agent_framework_history.testing",
    ),
    __all__,
)
