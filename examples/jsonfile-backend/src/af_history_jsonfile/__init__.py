"""An example agent-framework-history backend: every history in one JSON file (``jsonfile://``)."""

from __future__ import annotations

from ._store import JsonFileHistoryStore, open_jsonfile_store

__all__ = ["JsonFileHistoryStore", "open_jsonfile_store"]
