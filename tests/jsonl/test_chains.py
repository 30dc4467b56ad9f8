"""Chain heads in jsonl files: the turn-marker format, files written before it, other writers, and read costs."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_framework_history import Capability, CorruptDataError, SessionKey
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_jsonl import JsonlHistoryStore, _io

KEY = SessionKey("s1", user="alice")

# Two items exactly as the jsonl backend wrote them before chain heads existed: compact JSON, one per line.
LEGACY = (
    b'{"type":"message","id":"msg_0u","role":"user","status":"completed",'
    b'"content":[{"type":"input_text","text":"question 0"}]}\n'
    b'{"type":"message","id":"msg_0a","role":"assistant","status":"completed",'
    b'"content":[{"type":"output_text","text":"answer 0"}]}\n'
)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def records(path: Path) -> list[Any]:
    """Each line: an item's id, or ``(head, parent)`` for a turn marker."""
    found: list[Any] = []
    for line in path.read_bytes().splitlines():
        value = json.loads(line)
        found.append((value["af_turn"]["head"], value["af_turn"]["parent"]) if "af_turn" in value else value["id"])
    return found


def legacy_file(store: JsonlHistoryStore, key: SessionKey = KEY) -> Path:
    path = store.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(LEGACY)
    return path


def test_jsonl_store_declares_chain_heads() -> None:
    assert Capability.CHAIN_HEAD in JsonlHistoryStore.CAPABILITIES


@pytest.mark.asyncio
async def test_a_file_written_before_chain_heads_loads_continues_and_forks(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        path = legacy_file(store)
        assert ids(await store.load(KEY)) == ["msg_0u", "msg_0a"]
        assert ids(await store.load(KEY, limit=1)) == ["msg_0a"]
        assert await store.load(KEY, head="turn_unknown") == []

        # Nothing new: no turn is recorded, but the legacy run gets a name (one marker line) to hand back.
        again = await store.append(KEY, make_turn(0))
        assert again.stored == 0 and again.head is not None
        assert path.read_bytes() == LEGACY + f'{{"af_turn":{{"head":"{again.head}","parent":null}}}}\n'.encode()
        legacy_head = again.head

        first = await store.append(KEY, make_turn(1))  # head=None continues the legacy chain
        fork = await store.append(KEY, make_turn(2), head=legacy_head)
        assert first.head and fork.head
        assert path.read_bytes().startswith(LEGACY)  # the old lines are never rewritten
        assert records(path)[2:] == [
            (legacy_head, None),
            "msg_1u",
            "msg_1a",
            (first.head, legacy_head),
            "msg_2u",
            "msg_2a",
            (fork.head, legacy_head),
        ]
    async with JsonlHistoryStore(tmp_path) as fresh:  # another process reads the same chains
        assert ids(await fresh.load(KEY, head=first.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert ids(await fresh.load(KEY, head=fork.head)) == ["msg_0u", "msg_0a", "msg_2u", "msg_2a"]
        assert ids(await fresh.load(KEY)) == ["msg_0u", "msg_0a", "msg_2u", "msg_2a"]  # the latest turn
        assert ids(await fresh.load(KEY, head=legacy_head)) == ["msg_0u", "msg_0a"]
        assert ids(await fresh.load(KEY, head=first.head, limit=3)) == ["msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_appending_to_a_legacy_file_names_its_items_and_continues_them_in_one_write(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        path = legacy_file(store)
        result = await store.append(KEY, make_turn(0) + make_turn(1))
        assert result.stored == 2
        lines = records(path)
        assert lines[:2] == ["msg_0u", "msg_0a"] and lines[3:5] == ["msg_1u", "msg_1a"]
        closing, new = lines[2], lines[5]
        assert closing[1] is None and new == (result.head, closing[0])
        assert ids(await store.load(KEY, head=result.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert ids(await store.load(KEY, head=closing[0])) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_items_an_older_writer_appends_after_markers_continue_the_latest_turn(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        h0 = (await store.append(KEY, make_turn(0))).head
        path = store.path_for(KEY)
        with path.open("ab") as old_writer:  # an older version of this library, appending without markers
            old_writer.write(LEGACY.replace(b"msg_0", b"msg_9").replace(b" 0", b" 9"))
        assert ids(await store.load(KEY)) == ["msg_0u", "msg_0a", "msg_9u", "msg_9a"]
        assert ids(await store.load(KEY, head=h0)) == ["msg_0u", "msg_0a"]
        result = await store.append(KEY, make_turn(9) + make_turn(1))  # the older writer's items count as stored
        assert result.stored == 2
        assert ids(await store.load(KEY, head=result.head)) == [f"msg_{n}{r}" for n in (0, 9, 1) for r in "ua"]
        forked = await store.append(KEY, make_turn(9), head=h0)  # not on h0's chain, so stored there
        assert forked.stored == 2
        assert ids(await store.load(KEY, head=forked.head)) == [f"msg_{n}{r}" for n in (0, 9) for r in "ua"]


@pytest.mark.asyncio
async def test_another_store_appending_in_between_is_seen_per_chain(tmp_path: Path) -> None:
    a, b = JsonlHistoryStore(tmp_path), JsonlHistoryStore(tmp_path)
    h0 = (await a.append(KEY, make_turn(0))).head
    h1 = (await a.append(KEY, make_turn(1), head=h0)).head
    fork = await b.append(KEY, make_turn(1), head=h0)  # b forks at a's turn: msg_1 is not on that chain yet
    assert fork.stored == 2
    assert (await a.append(KEY, make_turn(1), head=fork.head)).stored == 0  # a reads b's turn first
    grown = await a.append(KEY, make_turn(1) + make_turn(2), head=fork.head)
    assert grown.stored == 2
    assert (await b.append(KEY, make_turn(2))).head == grown.head  # b sees a's turn as the latest
    assert ids(await b.load(KEY, head=h1)) == [f"msg_{n}{r}" for n in (0, 1) for r in "ua"]
    assert ids(await a.load(KEY)) == [f"msg_{n}{r}" for n in (0, 1, 2) for r in "ua"]
    await a.aclose()
    await b.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("head", [7, b"turn_x", {"head": "x"}, ""])
async def test_a_head_that_is_not_a_string_is_rejected(tmp_path: Path, head: Any) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        with pytest.raises(ValueError, match="head must be None or a chain head string") as info:
            await store.append(KEY, [make_item(1)], head=head)
        assert repr(head) in str(info.value)
        with pytest.raises(ValueError, match="head must be None"):
            await store.load(KEY, head=head, limit=3)
        assert not store.path_for(KEY).exists()


@pytest.mark.asyncio
async def test_an_unknown_head_warns_and_starts_a_new_root_chain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        heads = [(await store.append(KEY, make_turn(n))).head for n in range(2)]
        assert all(h is not None and re.fullmatch(r"turn_[0-9a-f]{32}", h) for h in heads)
        with caplog.at_level(logging.WARNING, logger="agent_framework_history.jsonl"):
            result = await store.append(KEY, make_turn(0), head="turn_of_someone_else")
        assert "'turn_of_someone_else' is not a turn of session" in caplog.text
        assert result.stored == 2
        assert records(store.path_for(KEY))[-1] == (result.head, None)
        assert ids(await store.load(KEY, head=result.head)) == ["msg_0u", "msg_0a"]
        assert await store.load(KEY, head="turn_of_someone_else", limit=5) == []


@pytest.mark.asyncio
async def test_a_malformed_turn_marker_is_a_corrupt_line(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        path = legacy_file(store)
        with path.open("ab") as handle:
            handle.write(b'{"af_turn":{"head":42,"parent":null}}\n')
        with pytest.raises(CorruptDataError, match=r"line 3 is not a stored item \(a 'af_turn' turn marker"):
            await store.load(KEY)
        report = await store.check(KEY)
        assert [(p.line, p.kind) for p in report.problems] == [(3, "corrupt")]


@pytest.mark.asyncio
async def test_check_counts_items_and_accepts_markers(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        for n in range(3):
            await store.append(KEY, make_turn(n))
        report = await store.check(KEY)
        assert report.ok and report.items == 6


@pytest.mark.asyncio
async def test_a_turn_cut_short_by_a_crash_keeps_its_whole_lines_as_an_unnamed_turn(tmp_path: Path) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        h0 = (await store.append(KEY, make_turn(0))).head
        path = store.path_for(KEY)
        with path.open("ab") as crashed:  # items written, then the marker torn by a crash
            crashed.write(LEGACY.replace(b"msg_0", b"msg_5") + b'{"af_turn":{"head":"turn_')
        assert ids(await store.load(KEY, limit=3)) == ["msg_0a", "msg_5u", "msg_5a"]
        result = await store.append(KEY, make_turn(6))
        assert (await store.check(KEY)).ok
        assert ids(await store.load(KEY, head=result.head)) == [f"msg_{n}{r}" for n in (0, 5, 6) for r in "ua"]
        assert ids(await store.load(KEY, head=h0)) == ["msg_0u", "msg_0a"]


class ReadCounter:
    """Counts the bytes read through ``_io.pread``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes = 0
        real = _io.pread

        async def counting(fd: int, size: int, offset: int) -> bytes:
            data: bytes = await real(fd, size, offset)
            self.bytes += len(data)
            return data

        monkeypatch.setattr(_io, "pread", counting)


@pytest.mark.asyncio
async def test_load_with_a_limit_of_a_linear_session_reads_only_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JsonlHistoryStore(tmp_path)
    for n in range(1500):
        await writer.append(KEY, make_turn(n))
    await writer.aclose()
    size = writer.path_for(KEY).stat().st_size
    assert size > 20 * _io.FIRST_TAIL_BLOCK
    async with JsonlHistoryStore(tmp_path) as reader:  # no index: the tail read alone
        counter = ReadCounter(monkeypatch)
        assert ids(await reader.load(KEY, limit=4)) == ["msg_1498u", "msg_1498a", "msg_1499u", "msg_1499a"]
        assert counter.bytes <= _io.FIRST_TAIL_BLOCK


@pytest.mark.asyncio
async def test_load_at_an_earlier_head_starts_at_its_marker_when_the_index_is_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        h0 = (await store.append(KEY, make_turn(0))).head
        early = (await store.append(KEY, make_turn(1), head=h0)).head
        for n in range(2, 1000):  # a long other branch written after the early turn
            await store.append(KEY, make_turn(n))
        fork = (await store.append(KEY, make_turn(5000), head=early)).head
        counter = ReadCounter(monkeypatch)
        assert ids(await store.load(KEY, head=early, limit=3)) == ["msg_0a", "msg_1u", "msg_1a"]
        assert counter.bytes <= _io.FIRST_TAIL_BLOCK  # the later turns are not read
        counter.bytes = 0
        assert ids(await store.load(KEY, head=fork, limit=3)) == ["msg_1a", "msg_5000u", "msg_5000a"]
        assert counter.bytes <= 2 * _io.FIRST_TAIL_BLOCK  # it jumps over the other branch to the early turn
        counter.bytes = 0
        assert await store.load(KEY, head="turn_unknown", limit=3) == []
        assert counter.bytes == 0
        monkeypatch.undo()
    async with JsonlHistoryStore(tmp_path) as fresh:  # without an index the same answers, read from the end
        assert ids(await fresh.load(KEY, head=early, limit=3)) == ["msg_0a", "msg_1u", "msg_1a"]
        assert ids(await fresh.load(KEY, head=fork, limit=3)) == ["msg_1a", "msg_5000u", "msg_5000a"]


@pytest.mark.asyncio
async def test_the_tail_read_stops_at_the_root_of_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with JsonlHistoryStore(tmp_path) as store:
        for n in range(1000):
            await store.append(KEY, make_turn(n))
        with caplog.at_level(logging.ERROR):  # the unknown-head warning is expected
            root = (await store.append(KEY, [make_item("new")], head="turn_gone")).head
        tip = (await store.append(KEY, [make_item("next")])).head
    async with JsonlHistoryStore(tmp_path) as fresh:
        counter = ReadCounter(monkeypatch)
        assert ids(await fresh.load(KEY, limit=100)) == ["msg_new", "msg_next"]
        assert counter.bytes <= _io.FIRST_TAIL_BLOCK  # the 1000 turns before the new root are not read
        assert ids(await fresh.load(KEY, head=root, limit=100)) == ["msg_new"]
        assert ids(await fresh.load(KEY, head=tip)) == ["msg_new", "msg_next"]


# -- a random tree of turns against a plain model --------------------------------------------------

operations = st.lists(
    st.tuples(
        st.integers(0, 1000),  # which earlier head to continue (or None / an unknown head)
        st.lists(st.integers(0, 7), min_size=1, max_size=4),  # item ids, from a small pool so replays happen
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations, legacy=st.booleans())
def test_random_trees_of_turns_agree_with_a_model(ops: list[tuple[int, list[int]]], legacy: bool) -> None:
    asyncio.run(_random_tree(ops, legacy))


async def _random_tree(ops: list[tuple[int, list[int]]], legacy: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = JsonlHistoryStore(Path(tmp))
        parents: dict[str | None, str | None] = {}
        turn_items: dict[str | None, list[str]] = {}
        order: list[str] = []  # heads, oldest first
        if legacy:
            legacy_file(store)
            named = (await store.append(KEY, make_turn(0))).head
            assert named is not None
            parents[named], turn_items[named] = None, ["msg_0u", "msg_0a"]
            order.append(named)

        def chain(head: str | None) -> list[str]:
            found: list[str] = []
            while head is not None:
                found[:0] = turn_items[head]
                head = parents[head]
            return found

        for pick, numbers in ops:
            choices: list[str | None] = [None, "turn_unknown", *order]
            head = choices[pick % len(choices)]
            base = order[-1] if head is None and order else (head if head in parents else None)
            before = chain(base)
            batch = [make_item(n) for n in numbers]
            new = [i["id"] for i in batch if i["id"] not in before]
            new = list(dict.fromkeys(new))
            result = await store.append(KEY, batch, head=head)
            assert result.stored == len(new)
            if new:
                assert result.head not in parents
                parents[result.head], turn_items[result.head] = base, new
                order.append(result.head)  # type: ignore[arg-type]
            else:
                assert result.head == base
        async with JsonlHistoryStore(Path(tmp)) as fresh:
            for reader in (store, fresh):  # with a current index, and reading the file alone
                for head in [None, *order]:
                    expected = chain(order[-1] if head is None else head)
                    assert ids(await reader.load(KEY, head=head)) == expected
                    for limit in {1, 2, len(expected) // 2 + 1, len(expected) + 1}:
                        assert ids(await reader.load(KEY, head=head, limit=limit)) == expected[-limit:]
        await store.aclose()


@pytest.mark.asyncio
async def test_concurrent_appends_without_a_head_make_one_linear_chain(tmp_path: Path) -> None:
    stores = [JsonlHistoryStore(tmp_path) for _ in range(3)]
    jobs = [s.append(KEY, make_turn(10 * k + n)) for n in range(10) for k, s in enumerate(stores)]
    random.Random(0).shuffle(jobs)
    results = await asyncio.gather(*jobs)
    lines = records(stores[0].path_for(KEY))
    markers = [line for line in lines if isinstance(line, tuple)]
    assert len(markers) == 30
    assert [parent for _, parent in markers] == [None] + [head for head, _ in markers[:-1]]  # each continues the last
    assert {r.head for r in results} == {head for head, _ in markers}
    assert len(await stores[1].load(KEY)) == 60
    for s in stores:
        await s.aclose()
