"""Backend-specific checks: stores that can scan their own files report damage a load does not show.

A store takes part by offering ``scan()`` (an async iterator of per-session file reports) and
``repair(key)``, as ``agent_framework_history_jsonl.JsonlHistoryStore`` does. They are found by
duck typing, so the core needs no backend installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from .._keys import SessionKey
from .._store import HistoryStore
from ._check import CheckReport, Problem

__all__ = ["FileScanning", "backend_check"]

_ACTIONS = {
    "truncated": "removed {removed} bytes",
    "terminated": "the whole item kept, its newline added",
    "none": "already repaired by another writer",
    "missing": "the file is gone",
}


class _LineProblem(Protocol):
    @property
    def line(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def reason(self) -> str: ...


class _FileReport(Protocol):
    @property
    def key(self) -> SessionKey: ...
    @property
    def path(self) -> Path: ...
    @property
    def problems(self) -> Sequence[_LineProblem]: ...


class _RepairResult(Protocol):
    @property
    def action(self) -> str: ...
    @property
    def removed_bytes(self) -> int: ...


@runtime_checkable
class FileScanning(Protocol):
    """A store that reports torn and corrupt lines of its files and can repair torn tails."""

    def scan(self) -> AsyncIterator[_FileReport]: ...

    async def repair(self, key: SessionKey) -> _RepairResult: ...


async def backend_check(store: HistoryStore, *, repair: bool) -> CheckReport | None:
    """Run the store's own scan (repairing torn tails when asked); ``None`` when it has none."""
    if not isinstance(store, FileScanning):
        return None
    report = CheckReport()
    async for file in store.scan():
        torn = [p for p in file.problems if p.kind == "torn"]
        if repair and torn:
            result = await store.repair(file.key)
            detail = _ACTIONS.get(result.action, result.action).format(removed=result.removed_bytes)
            report.repaired.append(f"{file.path}: torn last line {torn[0].line} ({detail})")
        for problem in file.problems:
            if repair and problem.kind == "torn":
                continue
            report.problems.append(
                Problem(
                    f"{file.path}:{problem.line}",
                    f"{problem.kind} line: {problem.reason}",
                    repairable=problem.kind == "torn",
                )
            )
    return report
