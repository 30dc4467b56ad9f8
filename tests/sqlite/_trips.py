"""Counting a store's trips to its worker thread (reads answered on the event loop make none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_framework_history_sqlite._database import Database


class Trips:
    """Counts the trips ``db`` makes to its worker thread from now on; :meth:`stop` ends the counting."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        self._db = db
        self._run = run = db._worker.run

        async def counted(function: Callable[[], Any]) -> Any:
            self.count += 1
            return await run(function)

        db._worker.run = counted  # type: ignore[method-assign]

    def take(self) -> int:
        """The trips counted since the last call, and start again from zero."""
        count, self.count = self.count, 0
        return count

    def stop(self) -> None:
        self._db._worker.run = self._run  # type: ignore[method-assign]
