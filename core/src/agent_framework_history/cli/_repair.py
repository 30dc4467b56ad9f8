"""Backend-specific checks: stores that inspect their own storage report damage a load does not show.

A store takes part by declaring :attr:`Capability.CHECK` (and :attr:`Capability.REPAIR`) and answering
``check_storage(repair=...)`` with a :class:`StorageReport`, as ``agent_framework_history_jsonl`` does.
"""

from __future__ import annotations

from .._storage_check import StorageChecking
from .._store import Capability, HistoryStore
from ._check import CheckReport, Problem

__all__ = ["backend_check"]


async def backend_check(store: HistoryStore, *, repair: bool) -> CheckReport | None:
    """Run the store's own check (repairing what it safely can when asked); ``None`` when it has none."""
    capabilities = store.capabilities
    if Capability.CHECK not in capabilities or not isinstance(store, StorageChecking):
        return None
    found = await store.check_storage(repair=repair and Capability.REPAIR in capabilities)
    report = CheckReport()
    report.repaired.extend(f"{done.location}: {done.detail}" for done in found.repaired)
    report.problems.extend(
        Problem(problem.location, problem.detail, repairable=problem.repairable and Capability.REPAIR in capabilities)
        for problem in found.problems
    )
    return report
