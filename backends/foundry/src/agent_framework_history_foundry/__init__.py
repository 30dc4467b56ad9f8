"""The ``foundry://`` backend: conversation histories in Foundry hosted-agent storage.

Each ``append`` is one response of a Foundry response chain, written through the
``azure-ai-agentserver-responses`` SDK's ``FoundryStorageProvider``.

Public names are imported on first use, so discovering the backend (which imports this
package) does not load the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_framework_history.backend import lazy_exports

if TYPE_CHECKING:
    from ._envelope import ORIGINAL_ID_KEY, PARTITION_KEY, Identity
    from ._errors import FoundryUnavailableError
    from ._open import open_foundry_store, resolve_endpoint
    from ._store import FoundryHistoryStore

__all__ = [
    "ORIGINAL_ID_KEY",
    "PARTITION_KEY",
    "FoundryHistoryStore",
    "FoundryUnavailableError",
    "Identity",
    "open_foundry_store",
    "resolve_endpoint",
]

_HOMES = {
    "ORIGINAL_ID_KEY": "._envelope",
    "PARTITION_KEY": "._envelope",
    "Identity": "._envelope",
    "open_foundry_store": "._open",
    "resolve_endpoint": "._open",
    "FoundryHistoryStore": "._store",
    "FoundryUnavailableError": "._errors",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
