"""Findings of the security review and the mutation round: links swapped in under a used store, temporary
files left by a full disk, fsync really called, no descriptor leaked, ``max_open_files`` enforced."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import pytest_asyncio

from agent_framework_history import ALL, CorruptDataError, SessionKey
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_jsonl import JsonlHistoryStore, _dirs, _io

pytestmark = pytest.mark.skipif(not _dirs.HAVE_DIR_FD, reason="directory descriptors are POSIX-only")

KEY = SessionKey("s", user="alice")
SECRET = b'{"type":"message","id":"msg_secret","role":"user","content":[{"type":"input_text","text":"not yours"}]}\n'


def files_in(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob("*") if p.is_file()]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def swap_in_a_link(tmp_path: Path, store: JsonlHistoryStore, level: str) -> Path:
    """Replace one level of the used session's path with a link to a look-alike tree outside the root."""
    outside = tmp_path / "outside"
    (outside / "~none").mkdir(parents=True)
    (outside / "~none" / "s.jsonl").write_bytes(SECRET)
    path = store.path_for(KEY)
    if level == "user":
        victim, target = path.parent.parent, outside
    elif level == "chat":
        victim, target = path.parent, outside / "~none"
    else:
        victim, target = path, outside / "~none" / "s.jsonl"
    victim.rename(tmp_path / "moved-away")
    victim.symlink_to(target)
    return outside


LEVELS = ["user", "chat", "file"]


@pytest_asyncio.fixture
async def used_store(tmp_path: Path) -> JsonlHistoryStore:
    store = JsonlHistoryStore(tmp_path / "root")
    await store.append(KEY, make_turn(0))  # the store has the session open and indexed
    assert len(await store.load(KEY)) == 2
    return store


@pytest.mark.asyncio
@pytest.mark.parametrize("level", LEVELS)
async def test_load_refuses_a_link_swapped_in_after_use(
    tmp_path: Path, used_store: JsonlHistoryStore, level: str
) -> None:
    outside = swap_in_a_link(tmp_path, used_store, level)
    for limit in (None, 5):
        with pytest.raises(ValueError, match="is a symbolic link.*nothing outside the store root"):
            await used_store.load(KEY, limit=limit)
    with pytest.raises(ValueError, match="is a symbolic link"):
        await used_store.check(KEY)
    assert snapshot(outside) == {"~none/s.jsonl": SECRET}
    await used_store.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("level", LEVELS)
async def test_append_refuses_a_link_swapped_in_after_use(
    tmp_path: Path, used_store: JsonlHistoryStore, level: str
) -> None:
    outside = swap_in_a_link(tmp_path, used_store, level)
    with pytest.raises(ValueError, match="is a symbolic link") as info:
        await used_store.append(KEY, make_turn(1))
    assert str(used_store.root) in str(info.value)
    with pytest.raises(ValueError, match="is a symbolic link"):
        await used_store.append(KEY, make_turn(2), head="turn_x")
    with pytest.raises(ValueError, match="is a symbolic link"):
        await used_store.repair(KEY)
    assert snapshot(outside) == {"~none/s.jsonl": SECRET}
    await used_store.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("level", LEVELS)
async def test_delete_refuses_a_link_swapped_in_after_use(
    tmp_path: Path, used_store: JsonlHistoryStore, level: str
) -> None:
    outside = swap_in_a_link(tmp_path, used_store, level)
    with pytest.raises(ValueError, match="is a symbolic link"):
        await used_store.delete(KEY)
    assert snapshot(outside) == {"~none/s.jsonl": SECRET}
    assert (tmp_path / "moved-away").exists()
    await used_store.aclose()


@pytest.mark.asyncio
async def test_listing_refuses_a_linked_partition_and_skips_it_in_wide_listings(
    tmp_path: Path, used_store: JsonlHistoryStore
) -> None:
    await used_store.append(SessionKey("other", user="bob"), [make_item(1)])
    swap_in_a_link(tmp_path, used_store, "user")
    with pytest.raises(ValueError, match="is a symbolic link"):
        _ = [key async for key in used_store.list_sessions(user="alice")]
    assert {key async for key in used_store.list_sessions(user=ALL, chat=ALL)} == {SessionKey("other", user="bob")}
    await used_store.aclose()


@pytest.mark.asyncio
async def test_listing_refuses_a_linked_chat_directory(tmp_path: Path, used_store: JsonlHistoryStore) -> None:
    swap_in_a_link(tmp_path, used_store, "chat")
    with pytest.raises(ValueError, match="is a symbolic link"):
        _ = [key async for key in used_store.list_sessions(user="alice")]
    assert [key async for key in used_store.list_sessions(user="alice", chat=ALL)] == []
    await used_store.aclose()


# -- a full disk while keeping a hashed name -----------------------------------------------------------

LONG = SessionKey("s" * 500, user="u")


@pytest.mark.asyncio
async def test_a_failed_sidecar_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    async with JsonlHistoryStore(tmp_path) as store:
        monkeypatch.setattr(_io, "write_all_sync", disk_full)
        with pytest.raises(OSError, match="No space left"):
            await store.append(LONG, [make_item(1)])
        monkeypatch.undo()
        assert files_in(tmp_path) == []  # no ~key.*.tmp, no half sidecar
        assert (await store.append(LONG, [make_item(1)])).stored == 1  # and it works once there is room
        assert [k async for k in store.list_sessions(user="u")] == [LONG]


@pytest.mark.asyncio
async def test_a_failed_sidecar_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rename_fails(self: _dirs.Dir, source: str, target: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    async with JsonlHistoryStore(tmp_path) as store:
        monkeypatch.setattr(_dirs.Dir, "replace", rename_fails)
        with pytest.raises(OSError, match="Input/output error"):
            await store.append(SessionKey("s", user="u" * 300), [make_item(1)])
        assert files_in(tmp_path) == []


# -- durability, descriptors ----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [10, 200_000])
async def test_fsync_durability_fsyncs_the_session_file_on_every_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    synced: list[tuple[int, int]] = []
    real = os.fsync

    def spy(fd: int) -> None:
        info = os.fstat(fd)
        synced.append((info.st_dev, info.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    async with JsonlHistoryStore(tmp_path, durability="fsync") as store:
        await store.append(KEY, [make_item(0, "x" * size)])
        info = store.path_for(KEY).stat()
        file_id = (info.st_dev, info.st_ino)
        assert file_id in synced
        before = synced.count(file_id)
        await store.append(KEY, [make_item(1, "y" * size)])
        assert synced.count(file_id) == before + 1
    synced.clear()
    async with JsonlHistoryStore(tmp_path) as flushing:  # the default does not wait for the disk
        await flushing.append(KEY, [make_item(2)])
        assert file_id not in synced


def open_fds() -> list[str]:
    return os.listdir("/proc/self/fd")


def fds_under(root: Path) -> list[str]:
    found = []
    for fd in open_fds():
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == str(root) or target.startswith(f"{root}/"):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.asyncio
async def test_loads_do_not_leak_file_descriptors(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        for n in range(5):
            await store.append(KEY, make_turn(n))
        bad = SessionKey("bad")
        bad_path = store.path_for(bad)
        bad_path.parent.mkdir(parents=True)
        bad_path.write_bytes(b"{not json\n")
        await store.load(KEY)  # warm up the thread pools
        before = len(open_fds())
        for n in range(100):
            await store.load(KEY)
            await store.load(KEY, limit=n % 7 + 1)
            await store.load(KEY, head="turn_unknown", limit=3)
            await store.load(SessionKey("missing"))
            with pytest.raises(CorruptDataError):
                await store.load(bad, limit=2)
            await store.check(KEY)
        assert len(open_fds()) == before
        assert len(fds_under(store.root)) == 1  # only the append descriptor of KEY


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.asyncio
async def test_max_open_files_bounds_the_descriptors_the_store_holds(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path, max_open_files=3) as store:
        keys = [SessionKey(f"s{n}", user=f"u{n % 4}") for n in range(12)]
        for round_ in range(2):
            for key in keys:
                await store.append(key, make_turn(round_))
                held = fds_under(store.root)
                assert len(held) <= 3, held
        assert len(fds_under(store.root)) == 3
        for key in keys:  # the evicted sessions are intact
            assert [i["id"] for i in await store.load(key)] == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    assert fds_under(tmp_path) == []
