"""What ``check`` and ``repair`` report, which OS lock each operation takes, torn tails and odd files met by a store.

Found by mutation testing: the other tests looked at a report's ``ok`` / ``action`` only, and no test held
a lock from outside to see who waits for it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent_framework_history import CorruptDataError, SessionKey
from agent_framework_history.backend import (
    Capability,
    ProblemKind,
    StorageRepair,
    StorageReport,
    dumps_item,
)
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import FileReport, JsonlHistoryStore, RepairResult

KEY = SessionKey("s1", user="alice")
T = TypeVar("T")


def item_line(n: int | str) -> str:
    return dumps_item(make_item(n))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@contextmanager
def shared_lock(path: Path) -> Iterator[None]:
    """Hold a shared ``flock`` on ``path`` through a descriptor of our own, as a reader in another process."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


async def finishes_while_locked(path: Path, call: Awaitable[T], wait: float) -> tuple[bool, T]:
    """Run ``call`` while a shared lock is held on ``path``: whether it finished within ``wait``, and its result."""
    with shared_lock(path):
        task = asyncio.ensure_future(call)
        await asyncio.wait({task}, timeout=wait)
        finished = task.done()
    return finished, await task


@pytest.mark.asyncio
async def test_check_reports_the_key_path_size_and_items(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    text = item_line(0) + "\n" + "{oops\n" + item_line(2) + "\n"
    write(path, text + item_line(3))  # the last item lacks its newline
    report = await store.check(KEY)
    problems = report.problems
    assert report == FileReport(KEY, path, exists=True, size=len(text + item_line(3)), items=3, problems=problems)
    assert [(p.line, p.offset, p.kind, p.recoverable) for p in problems] == [
        (2, len(item_line(0)) + 1, "corrupt", False),
        (4, len(text), "torn", True),
    ]
    missing = SessionKey("none", user="alice")
    assert await store.check(missing) == FileReport(missing, store.path_for(missing), exists=False, size=0, items=0)


@pytest.mark.asyncio
async def test_repair_reports_the_key_and_path_and_keeps_the_whole_lines(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    keys = {name: SessionKey(name, user="u") for name in ("cut", "whole", "fine", "missing")}
    whole_lines = item_line(0) + "\n" + item_line(1) + "\n"
    write(store.path_for(keys["cut"]), whole_lines + '{"type":"mess')
    write(store.path_for(keys["whole"]), whole_lines + item_line(2))
    write(store.path_for(keys["fine"]), whole_lines)
    results = {name: await store.repair(key) for name, key in keys.items()}
    assert results == {
        "cut": RepairResult(keys["cut"], store.path_for(keys["cut"]), "truncated", removed_bytes=13),
        "whole": RepairResult(keys["whole"], store.path_for(keys["whole"]), "terminated"),
        "fine": RepairResult(keys["fine"], store.path_for(keys["fine"]), "none"),
        "missing": RepairResult(keys["missing"], store.path_for(keys["missing"]), "missing"),
    }
    # Only the cut-short line went; every complete line is still there.
    assert store.path_for(keys["cut"]).read_text() == whole_lines
    assert store.path_for(keys["whole"]).read_text() == whole_lines + item_line(2) + "\n"
    assert ids(await store.load(keys["cut"])) == ["msg_0", "msg_1"]


@pytest.mark.asyncio
async def test_check_storage_gives_the_typed_report_and_repairs_only_torn_tails(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    assert {Capability.CHECK, Capability.REPAIR} <= store.capabilities
    cut, bad = SessionKey("cut", user="u"), SessionKey("bad", user="u")
    whole_lines = item_line(0) + "\n" + item_line(1) + "\n"
    write(store.path_for(cut), whole_lines + '{"type":"mess')
    write(store.path_for(bad), item_line(0) + "\n{oops\n")
    cut_path, bad_path = store.path_for(cut), store.path_for(bad)
    report = await store.check_storage()
    kinds = {(p.key, p.kind, p.location, p.repairable) for p in report.problems}
    assert kinds == {(bad, "corrupt", f"{bad_path}:2", False), (cut, "torn", f"{cut_path}:3", True)}
    assert all(p.detail.startswith(f"{p.kind} line: ") for p in report.problems)
    assert report.repaired == () and cut_path.read_text().endswith("mess")  # checking changes nothing
    repaired = await store.check_storage(repair=True)
    assert repaired.repaired == (StorageRepair(str(cut_path), "torn last line 3 (removed 13 bytes)", cut),)
    assert [(p.key, p.kind) for p in repaired.problems] == [(bad, ProblemKind.CORRUPT)]  # a whole line is kept
    assert cut_path.read_text() == whole_lines and bad_path.read_text() == item_line(0) + "\n{oops\n"
    assert await store.check_storage(repair=True) == StorageReport(repaired.problems)


@pytest.mark.asyncio
async def test_delete_and_repair_wait_for_a_reader_check_and_load_do_not(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        await store.append(KEY, [make_item(0)])
        path = store.path_for(KEY)
        finished, report = await finishes_while_locked(path, store.check(KEY), wait=5)
        assert finished and report.items == 1
        finished, items = await finishes_while_locked(path, store.load(KEY), wait=5)
        assert finished and ids(items) == ["msg_0"]
        finished, repaired = await finishes_while_locked(path, store.repair(KEY), wait=0.3)
        assert not finished and repaired.action == "none"
        finished, deleted = await finishes_while_locked(path, store.delete(KEY), wait=0.3)
        assert not finished and deleted is True
        assert not path.exists()


@pytest.mark.asyncio
async def test_deleting_a_session_whose_directories_do_not_exist_is_false(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path / "history") as store:
        assert await store.delete(SessionKey("s", user="nobody", chat="none")) is False
        await store.append(SessionKey("other", user="u"), [make_item(0)])
        assert await store.delete(SessionKey("s", user="u", chat="none")) is False
        assert await store.delete(SessionKey("s", user="u")) is False


@pytest.mark.asyncio
async def test_appends_after_a_newline_repair_keep_the_index_right(tmp_path: Path) -> None:
    # The repair adds the missing newline; the store's index must then end where the file does.
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    write(path, item_line(0) + "\n" + item_line(1))
    first = await store.append(KEY, [make_item(1), make_item(2)])
    second = await store.append(KEY, [make_item(2), make_item(3)])
    assert (first.stored, second.stored) == (1, 1)
    assert ids(await store.load(KEY)) == ["msg_0", "msg_1", "msg_2", "msg_3"]
    assert ids(await store.load(KEY, limit=2)) == ["msg_2", "msg_3"]
    assert ids(await store.load(KEY, head=first.head)) == ["msg_0", "msg_1", "msg_2"]
    assert ids(await store.load(KEY, head=first.head, limit=1)) == ["msg_2"]
    await store.aclose()
    assert (await JsonlHistoryStore(tmp_path).check(KEY)).ok


@pytest.mark.asyncio
async def test_a_tail_read_warns_of_a_torn_line_not_of_a_whole_item_without_newline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonlHistoryStore(tmp_path)
    whole, cut = SessionKey("whole"), SessionKey("cut")
    write(store.path_for(whole), item_line(0) + "\n" + item_line(1))
    write(store.path_for(cut), item_line(0) + "\n" + '{"type":"mess')
    with caplog.at_level(logging.INFO, logger="agent_framework_history.jsonl"):
        assert ids(await store.load(whole, limit=5)) == ["msg_0", "msg_1"]
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="agent_framework_history.jsonl"):
        assert ids(await store.load(cut, limit=5)) == ["msg_0"]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_repr_names_the_root_and_the_settings(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path / "h", durability="fsync", on_corrupt="skip")
    assert repr(store) == f"JsonlHistoryStore({str(tmp_path / 'h')!r}, durability='fsync', on_corrupt='skip')"


@pytest.mark.asyncio
async def test_a_tail_read_ends_the_chain_at_a_parent_missing_from_the_file(tmp_path: Path) -> None:
    # A hand-edited file: the latest turn names a parent no marker has; its chain is that turn alone.
    store = JsonlHistoryStore(tmp_path)
    other = '{"af_turn":{"head":"turn_other","parent":null}}'
    latest = '{"af_turn":{"head":"turn_latest","parent":"turn_gone"}}'
    write(store.path_for(KEY), "\n".join([item_line("a"), other, item_line("b"), latest]) + "\n")
    assert (await store.append(KEY, [make_item("b")])).stored == 0  # the store now indexes the whole file
    assert ids(await store.load(KEY)) == ["msg_b"]
    assert ids(await store.load(KEY, limit=5)) == ["msg_b"]
    assert ids(await store.load(KEY, head="turn_latest", limit=5)) == ["msg_b"]
    await store.aclose()


@pytest.mark.asyncio
async def test_a_tail_read_crosses_lines_longer_than_its_blocks(tmp_path: Path) -> None:
    # The backward read starts with a 16 KiB block and doubles it: a 50,000-byte line spans several blocks.
    long = dumps_item(make_item("long", "x" * 50_000))
    lines = [item_line(0), long, item_line(1), "{oops", item_line(2)]
    skipping = JsonlHistoryStore(tmp_path / "skip", on_corrupt="skip")
    write(skipping.path_for(KEY), "\n".join(lines) + "\n")
    everything = ["msg_0", "msg_long", "msg_1", "msg_2"]
    assert ids(await skipping.load(KEY)) == everything
    for limit in range(1, 6):
        assert ids(await skipping.load(KEY, limit=limit)) == everything[-limit:]
    raising = JsonlHistoryStore(tmp_path / "raise")
    write(raising.path_for(KEY), "\n".join(lines) + "\n")
    for limit in (1, 2):  # the read of limit + WINDOW_SLACK lines reaches the corrupt line
        with pytest.raises(CorruptDataError) as raised:  # the corrupt line is found in a block that starts mid-file
            await raising.load(KEY, limit=limit)
        assert raised.value.location == f"{raising.path_for(KEY)}:4"
    # A torn last line longer than the first block: that block holds no line start at all.
    torn = JsonlHistoryStore(tmp_path / "torn")
    write(torn.path_for(KEY), item_line(0) + "\n" + item_line(1) + "\n" + long[:-10])
    assert ids(await torn.load(KEY, limit=2)) == ["msg_0", "msg_1"]
    assert ids(await torn.load(KEY)) == ["msg_0", "msg_1"]


@pytest.mark.asyncio
async def test_the_index_an_append_keeps_points_at_whole_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    first = await store.append(KEY, [make_item(0)])
    await store.append(KEY, [make_item(1)])
    # A tail read at an earlier head starts at its marker, where the index says it is: at a line start.
    with caplog.at_level(logging.INFO, logger="agent_framework_history.jsonl"):
        assert ids(await store.load(KEY, head=first.head, limit=5)) == ["msg_0"]
    assert caplog.records == []
    # Line numbers count on from the lines this store wrote.
    with path.open("a", encoding="utf-8") as file:
        file.write("{oops\n")
    with pytest.raises(CorruptDataError) as raised:
        await store.append(KEY, [make_item(2)])
    assert raised.value.location == f"{path}:5"
    await store.aclose()
