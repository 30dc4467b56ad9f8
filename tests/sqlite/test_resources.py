"""Closing a store gives back its threads and file descriptors, also after a failed open."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agent_framework_history import CorruptDataError, SessionKey
from agent_framework_history.testing import make_turn
from agent_framework_history_sqlite import SQLiteHistoryStore

from ._open import open_now

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("af-history-sqlite")]


def open_fds(path: Path) -> list[str]:
    """What this process's open descriptors on ``path`` (and its -wal / -shm files) point to."""
    targets: list[str] = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listing the directory, closed meanwhile
            continue
        if target.startswith(str(path)):
            targets.append(target)
    return targets


@pytest.mark.asyncio
async def test_aclose_ends_the_threads_and_closes_the_files(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    threads_before = store_threads()
    assert open_fds(path) == []
    for round_no in range(3):
        store = SQLiteHistoryStore(path)
        for n in range(70):  # past the 64 writes that start the background checkpoint thread
            await store.append(SessionKey("s"), make_turn(100 * round_no + n))
        assert len(await store.load(SessionKey("s"))) == 140 * (round_no + 1)
        assert {str(path), f"{path}-wal", f"{path}-shm"} <= set(open_fds(path))  # so the check below means something
        assert {t.name for t in store_threads() if t not in threads_before} >= {  # threads, not names: others may leak
            "af-history-sqlite",
            "af-history-sqlite-checkpoint_0",
        }
        await store.aclose()
        assert open_fds(path) == []
        assert store_threads() == threads_before


def test_a_failed_open_leaves_no_thread_or_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"not a database\n" * 500)
    threads_before = store_threads()
    for _ in range(3):
        with pytest.raises(CorruptDataError):
            open_now(path)
    assert open_fds(path) == []
    assert store_threads() == threads_before
