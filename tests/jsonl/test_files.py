from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest

from agent_framework_history import ALL, CorruptDataError, SessionKey
from agent_framework_history._base import WINDOW_SLACK
from agent_framework_history.backend import dumps_item
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_jsonl import JsonlHistoryStore

KEY = SessionKey("s1", user="alice")


def ids(items: list[dict[str, object]]) -> list[object]:
    return [item["id"] for item in items]


def lines_of(path: Path) -> list[object]:
    """Each line of a session file: an item's id, or ``("turn", head, parent)`` for a turn marker."""
    found: list[object] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        found.append(
            ("turn", record["af_turn"]["head"], record["af_turn"]["parent"]) if "af_turn" in record else record["id"]
        )
    return found


def marker(head: str | None, parent: str | None) -> str:
    return json.dumps({"af_turn": {"head": head, "parent": parent}}, separators=(",", ":"))


@pytest.mark.asyncio
async def test_each_item_is_one_compact_line_and_a_marker_closes_the_turn(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        turn = make_turn(0)
        first = await store.append(KEY, turn)
        path = tmp_path / "alice" / "~none" / "s1.jsonl"
        assert store.path_for(KEY) == path
        expected = "".join(dumps_item(item) + "\n" for item in turn) + marker(first.head, None) + "\n"
        assert path.read_text(encoding="utf-8") == expected
        second = await store.append(KEY, make_turn(1))
        expected += "".join(dumps_item(item) + "\n" for item in make_turn(1)) + marker(second.head, first.head) + "\n"
        assert path.read_text(encoding="utf-8") == expected


@pytest.mark.asyncio
async def test_two_stores_on_one_root_share_the_id_index(tmp_path: Path) -> None:
    """Separate stores (separate descriptors and locks, as in separate processes) stay consistent."""
    a, b = JsonlHistoryStore(tmp_path), JsonlHistoryStore(tmp_path)
    assert (await a.append(KEY, make_turn(0))).stored == 2
    assert (await b.append(KEY, make_turn(0) + make_turn(1))).stored == 2
    assert (await a.append(KEY, make_turn(1) + make_turn(2))).stored == 2  # a reads b's tail first
    assert (await b.append(KEY, make_turn(2))).stored == 0
    assert ids(await a.load(KEY)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]
    await a.aclose()
    await b.aclose()


@pytest.mark.asyncio
async def test_a_session_deleted_by_another_store_is_started_afresh(tmp_path: Path) -> None:
    a, b = JsonlHistoryStore(tmp_path), JsonlHistoryStore(tmp_path)
    await a.append(KEY, make_turn(0))
    assert await b.delete(KEY) is True
    assert (await a.append(KEY, make_turn(0))).stored == 2  # a notices its file is gone
    assert ids(await b.load(KEY)) == ["msg_0u", "msg_0a"]
    await a.aclose()
    await b.aclose()


@pytest.mark.asyncio
async def test_evicted_sessions_reopen_correctly(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path, max_open_files=2) as store:
        keys = [SessionKey(f"s{n}") for n in range(5)]
        for round_ in range(3):
            for key in keys:
                await store.append(key, make_turn(round_))
                await store.append(key, make_turn(round_))
        for key in keys:
            assert ids(await store.load(key)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]


@pytest.mark.asyncio
@pytest.mark.parametrize("sizes", [[10] * 50, [20_000, 10, 70_000, 5, 300_000, 10, 10], [1] * 3])
async def test_load_limit_reads_the_tail_correctly_across_block_boundaries(tmp_path: Path, sizes: list[int]) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        for n, size in enumerate(sizes):
            await store.append(KEY, [make_item(n, "x" * size)])
        everything = await store.load(KEY)
        assert ids(everything) == [f"msg_{n}" for n in range(len(sizes))]
        for limit in range(1, len(sizes) + 2):
            assert await store.load(KEY, limit=limit) == everything[-limit:]


def write_lines(path: Path, lines: list[str], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("".join(line + "\n" for line in lines) + tail).encode())


def item_line(n: int) -> str:
    return dumps_item(make_item(n))


@pytest.mark.asyncio
async def test_corrupt_line_raises_naming_file_and_line(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    write_lines(path, [item_line(0), item_line(1), "{not json", item_line(3), item_line(4)])
    for limit in (None, 3, 10):
        with pytest.raises(CorruptDataError, match=r"line 3 is not a stored item") as info:
            await store.load(KEY, limit=limit)
        assert info.value.location == f"{path}:3"
    with pytest.raises(CorruptDataError, match="line 3"):
        await store.append(KEY, [make_item(5)])
    assert path.read_text().count("\n") == 5  # nothing written, nothing removed
    later = [item_line(n) for n in range(3, 3 + WINDOW_SLACK + 4)]
    write_lines(path, [item_line(0), item_line(1), "{not json", *later])
    assert ids(await store.load(KEY, limit=2)) == [f"msg_{n}" for n in range(WINDOW_SLACK + 5, WINDOW_SLACK + 7)]
    # the tail a limited load reads (limit plus WINDOW_SLACK items) never reaches line 3


@pytest.mark.asyncio
async def test_on_corrupt_skip_passes_over_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = JsonlHistoryStore(tmp_path, on_corrupt="skip")
    path = store.path_for(KEY)
    write_lines(path, [item_line(0), '{"type":"message"}', item_line(2), "[1,2]", item_line(4)])
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.jsonl"):
        assert ids(await store.load(KEY)) == ["msg_0", "msg_2", "msg_4"]
    assert store.skipped_lines == 2
    assert "skipped corrupt line 2" in caplog.text and "skipped corrupt line 4" in caplog.text
    assert ids(await store.load(KEY, limit=3)) == ["msg_0", "msg_2", "msg_4"]
    assert store.skipped_lines == 4
    assert (await store.append(KEY, [make_item(4), make_item(5)])).stored == 1
    assert '{"type":"message"}' in path.read_text()  # the corrupt lines stay for a person to look at


@pytest.mark.asyncio
async def test_torn_last_line_is_skipped_on_read_and_removed_before_the_next_append(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    write_lines(path, [item_line(0), item_line(1)], tail=item_line(2)[:-7])
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.jsonl"):
        assert ids(await store.load(KEY)) == ["msg_0", "msg_1"]
        assert ids(await store.load(KEY, limit=1)) == ["msg_1"]
    assert "torn last line" in caplog.text
    report = await store.check(KEY)
    assert not report.ok and report.torn is not None and report.torn.line == 3 and not report.torn.recoverable
    assert (report.items, report.corrupt) == (2, ())
    result = await store.append(KEY, [make_item(2), make_item(3)])
    assert result.stored == 2
    lines = lines_of(path)  # the legacy items are closed as a turn of their own, then the new turn follows
    assert lines[:2] == ["msg_0", "msg_1"] and lines[3:5] == ["msg_2", "msg_3"] and len(lines) == 6
    closing = lines[2]
    assert isinstance(closing, tuple) and closing[2] is None
    assert lines[5] == ("turn", result.head, closing[1])
    assert path.read_text().startswith("".join(item_line(n) + "\n" for n in range(2)))
    assert (await store.check(KEY)).ok


@pytest.mark.asyncio
async def test_whole_last_item_without_newline_is_kept(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    write_lines(path, [item_line(0)], tail=item_line(1))
    assert ids(await store.load(KEY)) == ["msg_0", "msg_1"]
    assert ids(await store.load(KEY, limit=1)) == ["msg_1"]
    report = await store.check(KEY)
    assert report.torn is not None and report.torn.recoverable and report.items == 2
    assert (await store.append(KEY, [make_item(1), make_item(2)])).stored == 1
    assert path.read_text().startswith("".join(item_line(n) + "\n" for n in range(2)))
    assert [line for line in lines_of(path) if isinstance(line, str)] == ["msg_0", "msg_1", "msg_2"]


@pytest.mark.asyncio
async def test_check_scan_and_repair_report_and_fix_torn_tails(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)
    torn_key, whole_key, bad_key, missing = (
        SessionKey("torn"),
        SessionKey("whole", user="u"),
        SessionKey("bad", chat="c"),
        SessionKey("none"),
    )
    write_lines(store.path_for(torn_key), [item_line(0)], tail='{"type":"mess')
    write_lines(store.path_for(whole_key), [item_line(0)], tail=item_line(1))
    write_lines(store.path_for(bad_key), [item_line(0), "garbage", item_line(2)])
    reports = {report.key: report async for report in store.scan()}
    assert set(reports) == {torn_key, whole_key, bad_key}
    assert reports[torn_key].torn is not None and reports[torn_key].items == 1
    assert [(p.line, p.kind) for p in reports[bad_key].problems] == [(2, "corrupt")]
    assert (await store.check(missing)).exists is False

    torn_fix = await store.repair(torn_key)
    assert (torn_fix.action, torn_fix.removed_bytes) == ("truncated", len('{"type":"mess'))
    assert (await store.repair(whole_key)).action == "terminated"
    assert (await store.repair(bad_key)).action == "none"  # corrupt lines are reported, never removed
    assert (await store.repair(missing)).action == "missing"
    assert (await store.check(torn_key)).ok and (await store.check(whole_key)).ok
    assert not (await store.check(bad_key)).ok
    assert ids(await store.load(whole_key)) == ["msg_0", "msg_1"]


@pytest.mark.asyncio
async def test_fsync_durability_writes_the_same_file(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path, durability="fsync") as store:
        await store.append(KEY, make_turn(0))
        await store.append(KEY, [make_item("big", "y" * 200_000)])
        lines = lines_of(store.path_for(KEY))
        assert [line for line in lines if isinstance(line, str)] == ["msg_0u", "msg_0a", "msg_big"]
        assert len(lines) == 5


@pytest.mark.asyncio
async def test_failed_write_leaves_the_file_ending_on_a_whole_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from agent_framework_history_jsonl import _io

    async with JsonlHistoryStore(tmp_path) as store:
        await store.append(KEY, make_turn(0))

        def half_then_fail(fd: int, data: bytes) -> None:
            os.write(fd, data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(_io, "write_all_sync", half_then_fail)
        with pytest.raises(OSError, match="No space"):
            await store.append(KEY, make_turn(1))
        monkeypatch.undo()
        assert (await store.check(KEY)).ok
        assert (await store.append(KEY, make_turn(1))).stored == 2
        assert ids(await store.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_listing_honours_all_and_skips_deleted_sessions(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        keys = [SessionKey("a"), SessionKey("b", user="U"), SessionKey("c", user="U", chat="x/y")]
        for key in keys:
            await store.append(key, [make_item(1)])
        await store.delete(keys[0])
        assert {k async for k in store.list_sessions(user=ALL, chat=ALL)} == set(keys[1:])
        assert {k async for k in store.list_sessions(user="U", chat=ALL)} == set(keys[1:])
        assert {k async for k in store.list_sessions(user=ALL, chat="x/y")} == {keys[2]}


@pytest.mark.asyncio
async def test_cancelled_append_leaves_a_whole_file_and_is_stored_at_most_once(tmp_path: Path) -> None:
    import asyncio

    async with JsonlHistoryStore(tmp_path, inline_write_limit=0) as store:
        await store.append(KEY, make_turn(0))
        bigs = [make_item(f"big{n}", "b" * 2_000_000) for n in range(5)]
        for n, big in enumerate(bigs):
            task = asyncio.ensure_future(store.append(KEY, [big]))
            for _ in range(n):
                await asyncio.sleep(0)  # cancel at a different point each time
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert (await store.check(KEY)).ok
        loaded = ids(await store.load(KEY))
        landed = [big for big in bigs if big["id"] in loaded]
        assert all(loaded.count(big["id"]) == 1 for big in landed)
        assert (await store.append(KEY, bigs)).stored == len(bigs) - len(landed)
        final = ids(await store.load(KEY))
        assert final[:2] == ["msg_0u", "msg_0a"]
        assert sorted(final[2:]) == [f"msg_big{n}" for n in range(5)]


@pytest.mark.asyncio
async def test_stores_in_one_process_contending_for_the_os_lock_lose_nothing(tmp_path: Path) -> None:
    """More stores than I/O threads, with loads holding the shared lock meanwhile: no deadlock, no loss."""
    import asyncio

    stores = [JsonlHistoryStore(tmp_path) for _ in range(12)]
    reader = JsonlHistoryStore(tmp_path)
    await stores[0].append(KEY, make_turn(0))
    writes = [store.append(KEY, make_turn(100 * s + n)) for n in range(1, 21) for s, store in enumerate(stores)]
    reads = [reader.load(KEY, limit=n % 7 + 1) for n in range(40)]
    await asyncio.wait_for(asyncio.gather(*writes, *reads), timeout=60)
    await asyncio.gather(*(store.append(KEY, make_turn(100 * s + 1)) for s, store in enumerate(stores)))
    loaded = ids(await reader.load(KEY))
    expected = {f"msg_{100 * s + n}{r}" for s in range(12) for n in range(1, 21) for r in "ua"} | {"msg_0u", "msg_0a"}
    assert sorted(loaded) == sorted(expected)
    for store in [*stores, reader]:
        await store.aclose()


@pytest.mark.asyncio
async def test_session_files_are_private_to_their_owner(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        await store.append(KEY, [make_item(1)])
        long_key = SessionKey("s" * 500, user="u")
        await store.append(long_key, [make_item(1)])
        assert store.path_for(KEY).stat().st_mode & 0o077 == 0
        sidecars = list(store.path_for(long_key).parent.glob("*.key"))
        assert len(sidecars) == 1 and sidecars[0].stat().st_mode & 0o077 == 0
