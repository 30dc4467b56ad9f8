"""Backend-specific checks: stores that can scan their own files report damage the generic load cannot."""

from __future__ import annotations

from .._store import HistoryStore
from ._check import CheckReport

__all__ = ["backend_check"]


async def backend_check(store: HistoryStore, *, repair: bool) -> CheckReport | None:
    """Run the store's own scan (and repair) when its backend offers one; ``None`` otherwise."""
    del store, repair
    return None
