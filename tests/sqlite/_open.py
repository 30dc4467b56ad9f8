"""Opening a store now, where a test expects the errors of a bad file (building one does no I/O)."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_framework_history_sqlite import SQLiteHistoryStore


async def aopen_now(*args: Any, **kwargs: Any) -> None:
    """Build a store, open it (``async with`` closes it again, also when opening fails)."""
    async with SQLiteHistoryStore(*args, **kwargs):
        pass


def open_now(*args: Any, **kwargs: Any) -> None:
    """:func:`aopen_now` from a test that runs no event loop."""
    asyncio.run(aopen_now(*args, **kwargs))
