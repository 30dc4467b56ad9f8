"""Databases this process cannot write: read-only opens, clear errors on writes, no migrations.

The tests run as root, which permission bits do not stop, so "cannot write" is made real with
``chattr +i`` (an immutable file or directory, which stops root too, as a read-only mount does),
and with the explicit ``mode="ro"``. Where ``chattr`` is unavailable (not root, or a file system
without attributes) only those tests are skipped; ``mode="ro"`` is tested everywhere.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_framework_history import ConfigurationError, SessionKey, open_store
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_sqlite import (
    SCHEMA_VERSION,
    ReadOnlyDatabaseError,
    SchemaVersionError,
    SQLiteHistoryStore,
    _database,
)

from ._open import aopen_now, open_now
from .test_schema import schema_rows, write_v1_database, write_v3_database

KEY = SessionKey("s", user="alice")
TURNS = [f"msg_{n}{r}" for n in range(3) for r in "ua"]


def _ids(items: list[dict[str, object]]) -> list[object]:
    return [item["id"] for item in items]


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``path`` (a file or directory) cannot be changed, by root either, until the block ends."""
    if shutil.which("chattr") is None or not _chattr("+i", path):
        pytest.skip("chattr +i is not available here (it needs root and a file system with attributes)")
    try:
        yield
    finally:
        _chattr("-i", path)


async def make_database(path: Path) -> None:
    """A database with three turns in KEY, closed cleanly (so no -wal or -shm file is left)."""
    async with SQLiteHistoryStore(path) as store:
        for n in range(3):
            await store.append(KEY, make_turn(n))
    assert not path.with_name(path.name + "-wal").exists()


async def assert_reads_but_refuses_writes(store: SQLiteHistoryStore, why: str) -> None:
    assert _ids(await store.load(KEY)) == TURNS
    assert _ids(await store.load(KEY, limit=2)) == TURNS[-2:]
    assert [k async for k in store.list_sessions(user="alice")] == [KEY]
    with pytest.raises(ReadOnlyDatabaseError, match=rf"is open read-only: {why}.*copy the file"):
        await store.append(KEY, [make_item("new")])
    with pytest.raises(ReadOnlyDatabaseError, match="is open read-only"):
        await store.delete(KEY)
    assert _ids(await store.load(KEY)) == TURNS


# -- mode="ro" ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_mode_ro_reads_and_refuses_writes_without_changing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    await make_database(path)
    before = path.read_bytes()
    store = open_store(f"sqlite:///{path.as_posix()}?mode=ro")
    assert isinstance(store, SQLiteHistoryStore)
    async with store:
        assert store.read_only == "it was opened with mode='ro'"
        await assert_reads_but_refuses_writes(store, "it was opened with mode='ro'")
    assert path.read_bytes() == before
    async with SQLiteHistoryStore(path) as writable:  # the default mode writes as before
        assert writable.read_only is None
        assert (await writable.append(KEY, [make_item("new")])).stored == 1


@pytest.mark.asyncio
async def test_mode_ro_does_not_migrate_an_older_schema(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    write_v1_database(path)
    before = path.read_bytes()
    with pytest.raises(ReadOnlyDatabaseError, match=r"schema version 1 and cannot be brought to version 4.*read-only"):
        await aopen_now(path, mode="ro")
    assert path.read_bytes() == before
    assert schema_rows(path)[1] == [1]


def test_mode_ro_still_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE af_history_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        conn.execute("INSERT INTO af_history_schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        open_now(path, mode="ro")


def test_mode_ro_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist; mode='ro' opens an existing database only"):
        open_now(tmp_path / "missing" / "h.db", mode="ro")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ConfigurationError, match="needs a database file"):
        SQLiteHistoryStore(":memory:", mode="ro")


def test_a_file_without_history_tables_is_refused_read_only(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE app (x)")
    conn.close()
    with pytest.raises(ReadOnlyDatabaseError, match="holds no history tables"):
        open_now(path, mode="ro")


@pytest.mark.parametrize("mode", ["readonly", "", 1])
def test_a_bad_mode_is_refused(tmp_path: Path, mode: object) -> None:
    with pytest.raises(ConfigurationError, match=r"mode must be 'rw'.*or 'ro'"):
        SQLiteHistoryStore(tmp_path / "h.db", mode=mode)  # type: ignore[arg-type]


# -- files and directories that cannot be written -------------------------------------------


@pytest.mark.asyncio
async def test_an_immutable_file_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    await make_database(path)
    with immutable(path):
        async with SQLiteHistoryStore(path) as store:
            assert store.read_only == "the file is not writable"
            await assert_reads_but_refuses_writes(store, "the file is not writable")
    async with SQLiteHistoryStore(path) as store:  # writable again: the same store writes
        assert store.read_only is None
        assert (await store.append(KEY, [make_item("new")])).stored == 1


@pytest.mark.asyncio
async def test_a_database_in_an_immutable_directory_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    folder.mkdir()
    path = folder / "h.db"
    await make_database(path)
    before = path.read_bytes()
    with immutable(folder):
        async with SQLiteHistoryStore(path) as store:
            assert store.read_only is not None
            assert "directory" in store.read_only and "is not writable" in store.read_only
            assert "immutable" in store.read_only  # SQLite could not create the WAL index beside it
            await assert_reads_but_refuses_writes(store, "its directory")
    assert path.read_bytes() == before


@pytest.mark.asyncio
async def test_an_older_schema_in_an_immutable_directory_is_refused_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    folder.mkdir()
    write_v1_database(folder / "v1.db")
    with immutable(folder), pytest.raises(ReadOnlyDatabaseError, match=r"schema version 1.*Open it once with write"):
        await aopen_now(folder / "v1.db")


@pytest.mark.asyncio
async def test_a_pending_write_ahead_log_in_an_immutable_directory_is_not_ignored(tmp_path: Path) -> None:
    path, copy = tmp_path / "h.db", tmp_path / "copy" / "h.db"
    copy.parent.mkdir()
    async with SQLiteHistoryStore(path) as store:
        await store.append(KEY, make_turn(0))  # committed to h.db-wal, not yet to h.db
        shutil.copyfile(path, copy)
        shutil.copyfile(path.with_name("h.db-wal"), copy.with_name("h.db-wal"))
    with immutable(copy.parent), pytest.raises(ReadOnlyDatabaseError, match=r"write-ahead log .*h\.db-wal"):
        await aopen_now(copy)
    async with SQLiteHistoryStore(copy) as store:  # writable again: the commits in the log are all there
        assert _ids(await store.load(KEY)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_a_write_sqlite_refuses_on_open_falls_back_to_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "backup"
    folder.mkdir()
    path = folder / "h.db"
    await make_database(path)
    monkeypatch.setattr(_database, "read_only_reason", lambda file: None)  # as if access(2) had said yes
    caplog.set_level(logging.WARNING, logger="agent_framework_history_sqlite")
    with immutable(folder):
        async with SQLiteHistoryStore(path) as store:
            assert store.read_only is not None and store.read_only.startswith("SQLite could not write to it")
            await assert_reads_but_refuses_writes(store, "SQLite could not write to it")
    assert "is opened read-only" in caplog.text


def test_a_new_database_in_an_immutable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with immutable(folder), pytest.raises(ConfigurationError, match=r"Cannot create .*directory .* is not writable"):
        open_now(folder / "h.db")


@pytest.mark.asyncio
async def test_a_version_3_database_read_only_says_it_cannot_tell_last_activity(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from agent_framework_history import UnsupportedOperationError

    path = tmp_path / "v3.db"
    write_v3_database(path)
    before = path.read_bytes()
    async with SQLiteHistoryStore(path, mode="ro") as store:
        assert _ids(await store.load(SessionKey("s1", user="alice", chat="c1"))) == TURNS
        with pytest.raises(UnsupportedOperationError, match=r"schema version 3, which does not record.*write access"):
            [a async for a in store.list_activity()]
        with pytest.raises(UnsupportedOperationError, match="schema version 3"):
            await store.prune(datetime.now(UTC), dry_run=True)
    assert path.read_bytes() == before
