"""The backends as the hosting SDK's response store: the host's write path per turn, against FileResponseStore.

Each turn is what ``ResponsesHostServer`` does: ``get_history_item_ids`` of the chain, then
``create_response`` of the turn carrying it (``workloads.run_sdk_store``, the same code the SDK's
own stores are timed with). Targets (issue "the backends as the hosting SDK's own stores"): at
2,000 turns sqlite at least 10x faster than FileResponseStore, per-turn cost flat as the chain
grows, and postgres within 3x of one INSERT round trip measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from _harness import Check, Context, Row
from workloads import run_sdk_store

POSTGRES_DSN_ENV = "AF_HISTORY_POSTGRES_DSN"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ROUND_TRIPS = 300


def _growth(row: Row) -> float:
    """Per-turn cost over the last quarter of the run ÷ over the first quarter."""
    points = [cost for _, cost in row.curve]
    quarter = max(1, len(points) // 4)
    return statistics.median(points[-quarter:]) / statistics.median(points[:quarter])


async def _insert_round_trip(dsn: str, schema: str) -> float:
    """Median time of one INSERT round trip on one connection to the same server."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE TABLE "{schema}".bench_round_trip (id bigint PRIMARY KEY, body text NOT NULL)')
        times: list[float] = []
        for n in range(ROUND_TRIPS):
            start = time.perf_counter()
            await conn.execute(f'INSERT INTO "{schema}".bench_round_trip VALUES ($1, $2)', n, "x" * 200)
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        await conn.close()


async def _postgres_reachable(dsn: str) -> bool:
    try:
        from agent_framework_history_postgres import probe
    except ImportError:
        return False
    with ThreadPoolExecutor(1) as pool:
        problem = pool.submit(asyncio.run, probe(dsn)).result()
    return problem is None


async def run(ctx: Context) -> None:
    from azure.ai.agentserver.responses import FileResponseStore

    from agent_framework_history import open_response_store

    turns = ctx.turns
    sqlite_store = open_response_store(f"sqlite:///{ctx.tmp}/hosting-responses.db")
    try:
        ours = await run_sdk_store("sqlite open_response_store", sqlite_store, turns)
    finally:
        await sqlite_store.aclose()
    ours.kind = "backend"
    sdk = await run_sdk_store("FileResponseStore (host write path)", FileResponseStore(ctx.tmp / "hosting-sdk"), turns)
    ctx.report.rows += [ours, sdk]
    ctx.report.checks += [
        Check(
            f"hosting: sqlite response store speed-up over FileResponseStore, host write path ({turns} turns)",
            sdk.append_s / ours.append_s,
            10.0,
            "x",
            higher_is_better=True,
        ),
        Check(
            f"hosting: sqlite response store per-turn, last ÷ first quarter ({turns} turns)", _growth(ours), 1.5, "x"
        ),
    ]
    ctx.report.notes.append(
        f"hosting write path per turn (µs): sqlite response store {ours.per_turn_us:.0f}, "
        f"FileResponseStore {sdk.per_turn_us:.0f}"
    )

    dsn = os.environ.get(POSTGRES_DSN_ENV) or POSTGRES_DSN
    if not await _postgres_reachable(dsn):
        ctx.report.notes.append(f"hosting: no PostgreSQL at {dsn}; the postgres response store was not timed")
        return
    schema = f"af_bench_hosting_{secrets.token_hex(3)}"
    try:
        postgres_store = open_response_store(f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}")
    except Exception as exc:  # the installed postgres backend offers no response store
        ctx.report.notes.append(f"hosting: postgres response store unavailable ({exc})")
        return
    try:
        pg = await run_sdk_store("postgres open_response_store", postgres_store, turns)
        insert_s = await _insert_round_trip(dsn, schema)
    finally:
        await postgres_store.aclose()
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    pg.kind = "backend"
    ctx.report.rows.append(pg)
    ctx.report.checks += [
        Check(
            f"hosting: postgres response store per turn ÷ one INSERT round trip ({turns} turns)",
            pg.append_s / turns / insert_s,
            3.0,
            "x",
        ),
        Check(
            f"hosting: postgres response store per-turn, last ÷ first quarter ({turns} turns)", _growth(pg), 1.5, "x"
        ),
    ]
    ctx.report.notes.append(
        f"hosting write path per turn (µs): postgres response store {pg.per_turn_us:.0f}; "
        f"one INSERT round trip {insert_s * 1e6:.0f}"
    )
