"""Agent turns through HistoryStoreProvider on sqlite: flat in the history's length, and against SQLiteSession.

A turn is what an agent run costs the history: ``get_messages`` then ``save_messages`` of a user and
an assistant message; the OpenAI Agents SDK's ``SQLiteSession`` turn is ``get_items()`` then
``add_items`` of the same two Responses items. Every ratio compares runs made in this process.
Also: the first key ``list_sessions`` yields on a file of 100,000 sessions.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _harness import Check, Context
from workloads import _sdk_items, turn_messages

from agent_framework_history import HistoryStoreProvider, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_sqlite import SQLiteHistoryStore
from agent_framework_history_sqlite._config import Synchronous

NAME = "sqlite"
SHORT, LONG = 20, 4_000  # messages in the history a turn continues
FLAT_ROUNDS = 301
SESSION_ITEMS = 100  # items in each session of the throughput runs
TASKS = (1, 100)
TURNS_PER_RUN = 1_000  # turns per throughput run, spread over the tasks
LISTED = 100_000


async def _build(provider: HistoryStoreProvider, session: str, messages: int) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for n in range(messages // 2):
        await provider.save_messages(session, turn_messages(n), state=state)
    return state


async def flat_turns(tmp: Path) -> dict[int, float]:
    """Median seconds of a provider turn continuing a history of ``SHORT`` and of ``LONG`` messages.

    Every turn continues the same head (as a host does for each request naming one earlier response),
    so the history it reads stays at its size; the two sizes take turns, round by round.
    """
    store = await SQLiteHistoryStore(tmp / "provider-turns.db").open()  # opened before any timing
    try:
        provider = HistoryStoreProvider(store)
        bases = {size: await _build(provider, f"history-{size}", size) for size in (SHORT, LONG)}
        for size, base in bases.items():  # the first read converts the whole history once
            if len(await provider.get_messages(f"history-{size}", state=json.loads(json.dumps(base)))) != size:
                raise AssertionError(f"the {size}-message history did not load whole")
        times: dict[int, list[float]] = {size: [] for size in bases}
        for n in range(FLAT_ROUNDS):
            for size, base in bases.items():
                state = json.loads(json.dumps(base))
                start = time.perf_counter()
                loaded = await provider.get_messages(f"history-{size}", state=state)
                await provider.save_messages(f"history-{size}", turn_messages(10_000 + n), state=state)
                times[size].append(time.perf_counter() - start)
                if len(loaded) != size:
                    raise AssertionError(f"a turn read {len(loaded)} messages, not {size}")
        return {size: statistics.median(values) for size, values in times.items()}
    finally:
        await store.aclose()


async def _run_tasks(tasks: int, turn: Any) -> float:
    """Turns per second of ``tasks`` tasks sharing ``TURNS_PER_RUN`` turns, each on its own session."""
    per_task = TURNS_PER_RUN // tasks

    async def worker(task: int) -> None:
        for n in range(per_task):
            await turn(task, n)

    start = time.perf_counter()
    await asyncio.gather(*(worker(task) for task in range(tasks)))
    return tasks * per_task / (time.perf_counter() - start)


async def ours(tmp: Path, tasks: int, synchronous: Synchronous = "normal") -> float:
    store = await SQLiteHistoryStore(
        tmp / f"provider-throughput-{tasks}-{synchronous}.db", synchronous=synchronous
    ).open()  # opened before any timing
    try:
        provider = HistoryStoreProvider(store)
        states = [await _build(provider, f"s{task}", SESSION_ITEMS) for task in range(tasks)]

        async def turn(task: int, n: int) -> None:
            loaded = await provider.get_messages(f"s{task}", state=states[task])
            if len(loaded) != SESSION_ITEMS + 2 * n:
                raise AssertionError("a provider turn read the wrong history")
            await provider.save_messages(f"s{task}", turn_messages(n), state=states[task])

        return await _run_tasks(tasks, turn)
    finally:
        await store.aclose()


async def sdk(tmp: Path, tasks: int) -> float:
    from agents.memory import SQLiteSession

    path = tmp / f"sdk-session-throughput-{tasks}.db"
    sessions = [SQLiteSession(f"s{task}", path) for task in range(tasks)]
    try:
        for session in sessions:
            await session.add_items([item for n in range(SESSION_ITEMS // 2) for item in _sdk_items(n, "")])  # type: ignore[misc]

        async def turn(task: int, n: int) -> None:
            loaded = await sessions[task].get_items()
            if len(loaded) != SESSION_ITEMS + 2 * n:
                raise AssertionError("a SQLiteSession turn read the wrong history")
            await sessions[task].add_items(list(_sdk_items(n, "")))  # type: ignore[arg-type]

        return await _run_tasks(tasks, turn)
    finally:
        for session in sessions:
            session.close()


async def first_listed_key(tmp: Path) -> tuple[float, float, int]:
    """Seconds and MB (traced allocations) to the first key ``list_sessions`` yields of ``LISTED`` sessions."""
    store = await SQLiteHistoryStore(tmp / "sqlite-listed.db").open()  # opened before any timing
    try:
        item = [make_item(1)]
        for n in range(LISTED):
            await store.append(SessionKey(f"s{n:06d}", user="bench-user"), item)
        tracemalloc.start()
        start = time.perf_counter()
        listing = store.list_sessions(user="bench-user")
        await listing.__anext__()
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        count = 1 + sum([1 async for _ in listing])
        return elapsed, peak / 1e6, count
    finally:
        await store.aclose()


async def run(ctx: Context) -> None:
    flat = await flat_turns(ctx.tmp)
    ctx.report.checks += [
        Check(f"provider turn (sqlite): at {LONG:,} messages ÷ at {SHORT}", flat[LONG] / flat[SHORT], 1.5, "x"),
        Check(f"provider turn (sqlite) at {LONG:,} messages", flat[LONG] * 1e3, 5.0, "ms"),
    ]
    speeds: dict[tuple[str, int], float] = {}
    for tasks in TASKS:
        for name, subject in (("ours", ours), ("sdk", sdk)):
            speeds[(name, tasks)] = await subject(ctx.tmp, tasks)
        speeds[("full", tasks)] = await ours(ctx.tmp, tasks, "full")  # fsync per commit, as SQLiteSession does
        ctx.report.checks.append(
            Check(
                f"provider turns/s ÷ SQLiteSession's, {SESSION_ITEMS}-item sessions, {tasks} task(s)",
                speeds[("ours", tasks)] / speeds[("sdk", tasks)],
                2.0,
                "x",
                higher_is_better=True,
            )
        )
    seconds, megabytes, count = await first_listed_key(ctx.tmp)
    if count != LISTED:
        raise AssertionError(f"list_sessions yielded {count} of {LISTED} sessions")
    ctx.report.notes += [
        f"provider turn on sqlite (get_messages + save_messages, median of {FLAT_ROUNDS}): "
        f"{flat[SHORT] * 1e3:.2f} ms at {SHORT} messages, {flat[LONG] * 1e3:.2f} ms at {LONG:,}",
        "turns/s at 100-item sessions: "
        + "; ".join(
            f"{tasks} task(s): provider {speeds[('ours', tasks)]:,.0f} (with synchronous=full, an fsync per "
            f"commit as SQLiteSession's default: {speeds[('full', tasks)]:,.0f}), "
            f"SQLiteSession {speeds[('sdk', tasks)]:,.0f}"
            for tasks in TASKS
        ),
        f"sqlite list_sessions of {LISTED:,} sessions: first key after {seconds * 1e3:.1f} ms, "
        f"{megabytes:.2f} MB allocated by then",
    ]
