"""jsonl load_after reads backwards from the end: it agrees with a forward reading of the whole file.

Random trees of turns (appends at the latest turn, at earlier heads, at unknown heads), then every
``(after, head)`` pair, asked of the store that wrote the file (its index current: it jumps between
markers) and of a fresh store (no index: it reads the lines back), is compared with ``chain_tail`` over
the parsed file.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent_framework_history import ChainTail, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore
from agent_framework_history_jsonl._lines import parse_region
from agent_framework_history_jsonl._turns import chain_tail

KEY = SessionKey("s", user="u")


def oracle(path: Path, after: str | None, head: str | None) -> ChainTail:
    tip, continues, items = chain_tail(parse_region(path.read_bytes()).all_records(), after, head)
    return ChainTail(items=items, head=tip, continues=continues)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", range(8))
async def test_load_after_agrees_with_a_forward_reading(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    writer = JsonlHistoryStore(tmp_path / "h")
    heads: list[str] = []
    try:
        for n in range(rng.randint(5, 25)):
            at = rng.choice([None, None, *heads[-3:], *heads, "turn_" + "f" * 32]) if heads else None
            size = rng.randint(1, 3)
            result = await writer.append(
                KEY, [make_item(f"{n}-{i}", "x" * rng.randint(1, 3000)) for i in range(size)], head=at
            )
            assert result.head is not None
            heads.append(result.head)
        path = writer.path_for(KEY)
        reader = JsonlHistoryStore(tmp_path / "h")
        try:
            candidates = [None, "turn_" + "0" * 32, *rng.sample(heads, min(len(heads), 8))]
            for store in (writer, reader):
                for after in candidates:
                    for head in [None, *rng.sample(heads, min(len(heads), 4))]:
                        expected = oracle(path, after, head)
                        assert await store.load_after(KEY, after, head=head) == expected, (after, head)
                        if expected.continues:
                            whole = await store.load(KEY, head=head)
                            assert whole[len(whole) - len(expected.items) :] == expected.items
        finally:
            await reader.aclose()
    finally:
        await writer.aclose()


@pytest.mark.asyncio
async def test_load_after_at_the_tip_reads_only_the_end_of_the_file(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path / "h")
    try:
        head = None
        for n in range(300):
            head = (await store.append(KEY, [make_item(n, "y" * 2000)])).head
        assert head is not None
        new = (await store.append(KEY, [make_item("new")])).head
        fresh = JsonlHistoryStore(tmp_path / "h")  # no index: reads back from the end
        try:
            reads: list[int] = []
            from agent_framework_history_jsonl import _io

            real = _io.read_range

            async def counted(fd: int, start: int, end: int) -> bytes:
                reads.append(end - start)
                return await real(fd, start, end)

            _io.read_range = counted  # type: ignore[assignment]
            try:
                tail = await fresh.load_after(KEY, head)
            finally:
                _io.read_range = real  # type: ignore[assignment]
            assert (tail.continues, [i["id"] for i in tail.items], tail.head) == (True, ["msg_new"], new)
            assert sum(reads) < 64 * 1024 < store.path_for(KEY).stat().st_size  # not the whole 600 KB file
        finally:
            await fresh.aclose()
    finally:
        await store.aclose()
