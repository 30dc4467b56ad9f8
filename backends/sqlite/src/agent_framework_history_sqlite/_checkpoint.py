"""WAL checkpoints on their own thread and connection, mostly off the append path.

In WAL mode every commit appends pages to ``<db>-wal``; a checkpoint copies them back into
the database file and flushes it to disk, which costs far more than a commit. SQLite runs
one inside the commit that crosses ``wal_autocheckpoint`` pages (1,000 by default), making
that append slow. Here, every few commits, a ``PASSIVE`` checkpoint runs on a second
connection: it never takes the write lock, so appends (from this process or any other) go
on meanwhile, and when the writer's own automatic checkpoint comes due most pages are
already copied. (Leaving the writer's checkpoint in place matters: only a checkpoint taken
between two write transactions lets the next one start the WAL file over, so without it a
busy writer's WAL would keep growing.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Final

__all__ = ["CHECKPOINT_EVERY", "Checkpointer"]

logger = logging.getLogger("agent_framework_history_sqlite")

CHECKPOINT_EVERY: Final = 64
"""Write transactions between two background checkpoints."""


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a background thread when asked, one at a time."""

    def __init__(self, path: str, synchronous: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pending = False
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="af-history-sqlite-checkpoint")

    def request(self) -> None:
        """Ask for a checkpoint; ignored while one is queued or running."""
        with self._lock:
            if self._pending or self._closed:
                return
            self._pending = True
        self._executor.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA synchronous = {self._synchronous.upper()}")
                self._conn = conn
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # harmless: the next one, or the writer's backstop, catches up
            logger.debug("Background WAL checkpoint of %s did not run: %s", self._path, exc)
        finally:
            with self._lock:
                self._pending = False

    def close(self) -> None:
        """Wait for a running checkpoint, then close the connection (call from any thread)."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
