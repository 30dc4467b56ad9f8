"""The ``foundry://`` backend: conversation histories in Foundry hosted-agent storage.

Each ``append`` is one response of a Foundry response chain, written through the
``azure-ai-agentserver-responses`` SDK's ``FoundryStorageProvider``.
"""

from __future__ import annotations

from ._envelope import ORIGINAL_ID_KEY, Identity
from ._open import open_foundry_store, resolve_endpoint
from ._store import FoundryHistoryStore

__all__ = ["ORIGINAL_ID_KEY", "FoundryHistoryStore", "Identity", "open_foundry_store", "resolve_endpoint"]
