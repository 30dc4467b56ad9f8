"""The ``jsonl://`` backend: one append-only JSON-lines file per session, safe across processes."""

from __future__ import annotations

from ._lines import LineProblem
from ._paths import is_literal_safe
from ._report import FileReport, RepairAction, RepairResult
from ._store import Durability, JsonlHistoryStore, OnCorrupt
from ._url import DEFAULT_ROOT, open_jsonl_store, root_from_url

__all__ = [
    "DEFAULT_ROOT",
    "Durability",
    "FileReport",
    "JsonlHistoryStore",
    "LineProblem",
    "OnCorrupt",
    "RepairAction",
    "RepairResult",
    "is_literal_safe",
    "open_jsonl_store",
    "root_from_url",
]
