"""The jsonl backend: the shared workload, and the issue's three speed targets measured in this run.

- 2,000 turns through the adapter: >= 80x faster than agent_framework.FileHistoryProvider, and
  <= 3x the raw json.dumps + open-append-close floor (both anchors timed here, right next to it);
- per-turn cost at 20,000 turns <= 1.5x the per-turn cost at 2,000 turns;
- load(limit=20) on a 20,000-item session <= 5 ms;

and, for conversation chains, load(limit=20) at the head of a fork from the session's first turn
(the same 5 ms): a store that appended the fork jumps over the long branch instead of reading it.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from _harness import Check, Context, Row, best_of
from workloads import run_backend, run_file_history, run_raw_append

from agent_framework_history import SessionKey, open_store
from agent_framework_history.testing import make_item

NAME = "jsonl"
BIG_TURNS = 20_000
BASE_TURNS = 2_000
REPEATS = 3


def target(tmp: Path) -> str | None:
    return f"jsonl://{(tmp / 'jsonl-shared').as_posix()}"


def _url(tmp: Path, name: str, query: str = "") -> str:
    return f"jsonl://{(tmp / name).as_posix()}{query}"


async def run(ctx: Context) -> None:
    report = ctx.report
    tmp = ctx.tmp / "jsonl-section"
    tmp.mkdir()

    # 1. 2,000 turns against the two anchors, interleaved so drift on a shared machine hits all alike.
    ours: list[float] = []
    raw: list[float] = []
    for i in range(REPEATS):
        ours.append((await run_backend("jsonl", _url(tmp, f"vs-{i}"), BASE_TURNS)).per_turn_us)
        raw_dir = tmp / f"raw-{i}"
        raw_dir.mkdir()
        raw.append((await run_raw_append(raw_dir, BASE_TURNS)).per_turn_us)
    (tmp / "file-history").mkdir()
    file_history = await run_file_history(tmp / "file-history", BASE_TURNS)
    jsonl_us, raw_us = statistics.median(ours), statistics.median(raw)
    report.checks.append(
        Check(
            f"jsonl: {BASE_TURNS} turns vs FileHistoryProvider (speed-up)",
            file_history.per_turn_us / jsonl_us,
            80,
            "x",
            higher_is_better=True,
        )
    )
    report.checks.append(Check(f"jsonl: {BASE_TURNS} turns vs raw json.dumps + append", jsonl_us / raw_us, 3, "x"))
    report.notes.append(
        f"jsonl section: {BASE_TURNS} turns, median of {REPEATS}: jsonl {jsonl_us:.1f} µs/turn, "
        f"raw floor {raw_us:.1f} µs/turn, FileHistoryProvider {file_history.per_turn_us:.1f} µs/turn."
    )

    # 2. flat cost: per-turn cost at 20,000 turns against 2,000 turns, interleaved, median of each.
    small: list[float] = []
    large: list[Row] = []
    for i in range(REPEATS):
        small.append((await run_backend("jsonl", _url(tmp, f"small-{i}"), BASE_TURNS)).per_turn_us)
        large.append(await run_backend("jsonl", _url(tmp, f"big-{i}"), BIG_TURNS))
    large.sort(key=lambda row: row.per_turn_us)
    big = large[len(large) // 2]
    big.name = f"jsonl ({BIG_TURNS} turns)"
    report.rows.append(big)
    small_us = statistics.median(small)
    report.checks.append(
        Check(f"jsonl: per-turn cost at {BIG_TURNS} ÷ at {BASE_TURNS} turns", big.per_turn_us / small_us, 1.5, "x")
    )
    report.notes.append(
        f"jsonl section: per turn, median of {REPEATS}: {small_us:.1f} µs at {BASE_TURNS} turns, "
        f"{big.per_turn_us:.1f} µs at {BIG_TURNS} turns."
    )

    # 3. load(limit=20) on a 20,000-item session, straight on the store.
    store = open_store(_url(tmp, "big-0"))
    try:
        key = SessionKey("bench-session")
        items = await store.load(key)
        if len(items) != 2 * BIG_TURNS:
            raise AssertionError(f"jsonl: the big session holds {len(items)} items, expected {2 * BIG_TURNS}")
        load_20 = await best_of(21, lambda: store.load(key, limit=20))
        start = time.perf_counter()
        await store.load(key)
        load_all = time.perf_counter() - start
        # A fork from the first turn, appended by this store (so its index is current), read at its head.
        first = _first_head(tmp / "big-0")
        fork = await store.append(key, [make_item(f"fork-{n}") for n in range(10)], head=first)
        fork_20 = await best_of(21, lambda: store.load(key, limit=20, head=fork.head))
        forked = await store.load(key, limit=20, head=fork.head)  # the fork's 10 items after turn 1's 2
        if len(forked) != 12 or forked[-1]["id"] != "msg_fork-9":
            raise AssertionError(f"jsonl: the fork's chain reads {[i['id'] for i in forked]}")
    finally:
        await store.aclose()
    report.checks.append(Check(f"jsonl: load(limit=20) on a {2 * BIG_TURNS}-item session", load_20 * 1e3, 5, "ms"))
    report.checks.append(
        Check(f"jsonl: load(limit=20) at a fork from turn 1 of a {2 * BIG_TURNS}-item session", fork_20 * 1e3, 5, "ms")
    )
    report.notes.append(
        f"jsonl section: load() of all {2 * BIG_TURNS} items {load_all * 1e3:.1f} ms, "
        f"load(limit=20) {load_20 * 1e3:.3f} ms, at a fork from turn 1 {fork_20 * 1e3:.3f} ms (medians of 21)."
    )

    # Context rows: every write through aiofiles' thread pool, and fsync per append.
    threaded = await run_backend("jsonl", _url(tmp, "threaded", "?inline_write_limit=0"), BASE_TURNS)
    threaded.name = "jsonl (every write in a thread)"
    report.rows.append(threaded)
    synced = await run_backend("jsonl", _url(tmp, "fsync", "?durability=fsync"), 200)
    synced.name = "jsonl (durability=fsync)"
    report.rows.append(synced)


def _first_head(root: Path) -> str:
    """The head of the first turn of the one session file under ``root``."""
    [path] = root.rglob("*.jsonl")
    with path.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"af_turn":'):
                head: str = json.loads(line)["af_turn"]["head"]
                return head
    raise AssertionError(f"{path} has no turn marker")
