"""The postgres backend: the shared workload, appends/s with 1 and 8 writers, load(limit=50) on 100,000 items
(at the tip and three forks deep), an append against one INSERT round trip, and appends/s with 1, 10 and 100
concurrent tasks.

The server comes from ``AF_HISTORY_POSTGRES_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Every schema made here is new for the run and dropped at the end of ``run``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _harness import Check, Context, Row

from agent_framework_history import SessionKey

NAME = "postgres"
DSN_ENV = "AF_HISTORY_POSTGRES_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
RUN = f"af_bench_{os.getpid()}_{secrets.token_hex(3)}"
WRITERS = 8
BIG = 100_000
LOAD_LIMIT = 50
LOAD_REPEATS = 300
FORKS = 3
ROUND_TRIPS = 300
CONCURRENCY = (1, 10, 100)
CONCURRENT_APPENDS = 2000

_problem: list[str] = []


def _dsn() -> str:
    return os.environ.get(DSN_ENV) or DEFAULT_DSN


def target(tmp: Path) -> str | None:
    from agent_framework_history_postgres import probe  # imported here: the runner imports every section

    # Called from inside the runner's event loop: probe the server on a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        problem = pool.submit(asyncio.run, probe(_dsn())).result()
    if problem is not None:
        _problem.append(f"postgres: no server at {_dsn()} ({problem}); set {DSN_ENV}. Section skipped.")
        return None
    separator = "&" if "?" in _dsn() else "?"
    return f"{_dsn()}{separator}schema={RUN}_workload"


def _turn(tag: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message",
            "id": f"msg_{tag}_{n}u",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": f"Question number {n}: what is the weather in city {n % 97}?"}],
        },
        {
            "type": "message",
            "id": f"msg_{tag}_{n}a",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": f"Answer {n}: sunny, about {n % 35} degrees.", "annotations": []}
            ],
        },
    ]


async def _latency(repeats: int, fn: Any) -> float:
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _append_targets(ctx: Context, dsn: str, schema: str) -> None:
    """An append against one INSERT round trip, and appends/s as concurrent writers grow past the pool.

    The store has the default settings (a pool of 10). Latency: a one-turn append to a session, then a
    one-row autocommit INSERT on a connection of its own, alternately, medians. Throughput: 1, 10 and
    100 tasks, each appending turns to a session of its own.
    """
    import asyncpg

    from agent_framework_history_postgres import open_postgres_store

    store = open_postgres_store(dsn, schema=schema, table_prefix="target_")
    conn = await asyncpg.connect(dsn)
    try:
        await store.connect()
        await conn.execute(f'CREATE TABLE "{schema}".bench_round_trip (id bigint PRIMARY KEY, body text NOT NULL)')
        key = SessionKey("latency", user="bench")
        appends: list[float] = []
        inserts: list[float] = []
        for n in range(ROUND_TRIPS):
            start = time.perf_counter()
            await store.append(key, _turn("l", n))
            middle = time.perf_counter()
            await conn.execute(f'INSERT INTO "{schema}".bench_round_trip VALUES ($1, $2)', n, "x" * 200)
            appends.append(middle - start)
            inserts.append(time.perf_counter() - middle)
        append_s, insert_s = statistics.median(appends), statistics.median(inserts)

        rates: dict[int, float] = {}
        for tasks in CONCURRENCY:
            per_task = max(1, CONCURRENT_APPENDS // tasks)

            async def write(task: int, tasks: int = tasks, per_task: int = per_task) -> None:
                own = SessionKey(f"tasks-{tasks}-{task}", user="bench")
                for n in range(per_task):
                    await store.append(own, _turn(f"t{task}", n))

            start = time.perf_counter()
            await asyncio.gather(*(write(task) for task in range(tasks)))
            rates[tasks] = per_task * tasks / (time.perf_counter() - start)
    finally:
        await conn.close()
        await store.aclose()
    low, mid, high = CONCURRENCY
    ctx.report.notes.append(
        f"postgres append (default pool of 10): median {append_s * 1e3:.2f} ms against {insert_s * 1e3:.2f} ms for"
        f" one INSERT round trip; appends/s with {low} / {mid} / {high} concurrent tasks (a session each):"
        f" {rates[low]:,.0f} / {rates[mid]:,.0f} / {rates[high]:,.0f}"
    )
    ctx.report.checks += [
        Check("postgres append ÷ one INSERT round trip (medians, same run)", append_s / insert_s, 1.5, "x"),
        Check(
            f"postgres appends/s, {high} ÷ {mid} concurrent tasks (keeps rising past the pool of 10)",
            rates[high] / rates[mid],
            1.1,
            "x",
            higher_is_better=True,
        ),
    ]


async def run(ctx: Context) -> None:
    import asyncpg

    from agent_framework_history_postgres import open_postgres_store

    report = ctx.report
    if _problem:
        report.notes.extend(_problem)
        return
    dsn = _dsn()
    turns = min(ctx.turns, 2000)
    schema = f"{RUN}_extra"
    store = open_postgres_store(dsn, schema=schema, pool_min_size=WRITERS, pool_max_size=WRITERS)
    try:
        await store.connect()

        # One writer, one session, one append (a user + assistant turn) after another.
        key = SessionKey("one-writer", user="bench")
        start = time.perf_counter()
        for n in range(turns):
            await store.append(key, _turn("w", n))
        one_s = time.perf_counter() - start
        report.rows.append(Row("postgres, 1 writer (store.append)", "backend", turns, one_s))

        # Eight writers at once (one connection each), each on its own session, then all on one session.
        async def write(key: SessionKey, tag: str, count: int) -> None:
            for n in range(count):
                await store.append(key, _turn(tag, n))

        per_writer = turns // WRITERS
        start = time.perf_counter()
        await asyncio.gather(
            *(write(SessionKey(f"writer-{w}", user="bench"), f"s{w}", per_writer) for w in range(WRITERS))
        )
        eight_s = time.perf_counter() - start
        report.rows.append(Row("postgres, 8 writers, 8 sessions", "backend", per_writer * WRITERS, eight_s))
        shared = SessionKey("shared", user="bench")
        start = time.perf_counter()
        await asyncio.gather(*(write(shared, f"x{w}", per_writer) for w in range(WRITERS)))
        shared_s = time.perf_counter() - start
        report.rows.append(Row("postgres, 8 writers, 1 session", "backend", per_writer * WRITERS, shared_s))
        report.notes.append(
            f"postgres appends/s (one turn = 2 items per append): 1 writer {turns / one_s:,.0f}; "
            f"8 writers on 8 sessions {per_writer * WRITERS / eight_s:,.0f}; "
            f"8 writers on 1 session {per_writer * WRITERS / shared_s:,.0f} "
            f"(client and server share this machine's {os.cpu_count()} cores)."
        )

        # load(limit=50) from a 100,000-item session, against a 100-item session in the same table.
        big, small = SessionKey("big", user="bench"), SessionKey("small", user="bench")
        batch = 1000
        big_heads: list[str | None] = []
        for b in range(BIG // batch):
            result = await store.append(
                big, [item for n in range(b * batch // 2, (b + 1) * batch // 2) for item in _turn("b", n)]
            )
            big_heads.append(result.head)
        # Three forks deep into the big session (from its middle), 10 turns (20 items) on each branch,
        # so that load(limit=50) at the last tip reads back across two fork points.
        fork_tip = big_heads[len(big_heads) // 2]
        for f in range(FORKS):
            branch: list[str | None] = []
            for n in range(10):
                fork_tip = (await store.append(big, _turn(f"f{f}", n), head=fork_tip)).head
                branch.append(fork_tip)
            if f < FORKS - 1:  # the next branch grows from this one's 8th turn
                fork_tip = branch[-3]
        await store.append(small, [item for n in range(50) for item in _turn("s", n)])
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"ANALYZE {store.names.items}")
            total = await conn.fetchval(f"SELECT count(*) FROM {store.names.items}")
        finally:
            await conn.close()
        assert len(await store.load(big, limit=LOAD_LIMIT)) == LOAD_LIMIT
        big_s = await _latency(LOAD_REPEATS, lambda: store.load(big, limit=LOAD_LIMIT, head=big_heads[-1]))
        small_s = await _latency(LOAD_REPEATS, lambda: store.load(small, limit=LOAD_LIMIT))
        fork_s = await _latency(LOAD_REPEATS, lambda: store.load(big, limit=LOAD_LIMIT, head=fork_tip))
        report.notes.append(
            f"postgres load(limit={LOAD_LIMIT}): {big_s * 1e3:.3f} ms median from a {BIG:,}-item session "
            f"({total:,} items in the table), {small_s * 1e3:.3f} ms from a 100-item session, "
            f"{fork_s * 1e3:.3f} ms at a head {FORKS} forks deep in the big session (across 2 fork points)."
        )
        report.checks.append(
            Check(
                f"postgres load(limit={LOAD_LIMIT}) on {BIG:,} items ÷ on 100 items (index scan: size-independent)",
                big_s / small_s,
                2.0,
                "x",
            )
        )
        report.checks.append(
            Check(
                f"postgres load(limit={LOAD_LIMIT}) {FORKS} forks deep ÷ at the tip (one index range per segment)",
                fork_s / big_s,
                3.0,
                "x",
            )
        )
        await _append_targets(ctx, dsn, schema)
    finally:
        await store.aclose()
        conn = await asyncpg.connect(dsn)
        try:
            for name in (schema, f"{RUN}_workload"):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()
