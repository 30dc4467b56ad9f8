"""The ``memory://`` backend: histories kept in this process."""

from __future__ import annotations

from ._store import MemoryHistoryStore, open_memory_store

__all__ = ["MemoryHistoryStore", "open_memory_store"]
