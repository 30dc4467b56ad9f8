"""The sqlite backend: the shared workload, then its targets side by side with the OpenAI Agents SDK.

Every ratio below compares runs made in this process, one after another, on the same
Responses items: each subject runs ``ROUNDS`` times in alternation on a fresh database file
and the median round counts, so a burst of noise on a shared machine hits one round only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _harness import Check, Context, Row, best_of
from workloads import SESSION, _sdk_items, run_sdk_store, turn_messages

from agent_framework_history import HistoryStoreProvider, Item, SessionKey
from agent_framework_history_sqlite import SQLiteHistoryStore

NAME = "sqlite"
ROUNDS = 5
BIG_TURNS = 20_000
WINDOW = 2_000
BIG_ITEMS = 100_000
LOAD_LIMIT = 50
LOAD_TURNS = 2_000  # 4,000 items
FORK_EVERY = 100  # turns between two forks of the forked chain

KEY = SessionKey(SESSION, user="bench-user")


def target(tmp: Path) -> str | None:
    return f"sqlite:///{(tmp / 'sqlite-workload' / 'history.db').as_posix()}"


def responses_turns(turns: int) -> list[list[Item]]:
    """The same user + assistant Responses items for every subject."""
    return [list(_sdk_items(n, "")) for n in range(turns)]


async def time_store_append(path: Path, batches: list[list[Item]], total_turns: int | None = None) -> float:
    """Append each batch in turn; the file then holds ``total_turns`` turns (default: the batches)."""
    store = await SQLiteHistoryStore(path).open()  # opened before any timing
    try:
        start = time.perf_counter()
        for batch in batches:
            await store.append(KEY, batch)
        elapsed = time.perf_counter() - start
        if len(await store.load(KEY)) != 2 * (total_turns or len(batches)):
            raise AssertionError("sqlite append lost items")
        return elapsed
    finally:
        await store.aclose()


async def time_sdk_session(path: Path, batches: list[list[Item]]) -> float:
    from agents.memory import SQLiteSession

    session = SQLiteSession(SESSION, path)
    try:
        start = time.perf_counter()
        for batch in batches:
            await session.add_items(batch)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        if len(await session.get_items()) != 2 * len(batches):
            raise AssertionError("SQLiteSession lost items")
        return elapsed
    finally:
        session.close()


async def time_provider(path: Path, turns: int) -> float:
    """Through the agent-framework adapter: Message objects, converted to items on every save."""
    store = await SQLiteHistoryStore(path).open()  # opened before any timing
    try:
        provider = HistoryStoreProvider(store)
        batches = [turn_messages(n) for n in range(turns)]
        state: dict[str, Any] = {}
        start = time.perf_counter()
        for batch in batches:
            await provider.save_messages(SESSION, batch, state=state)
        return time.perf_counter() - start
    finally:
        await store.aclose()


async def time_aiosqlite(path: Path, batches: list[list[Item]]) -> float | None:
    """The same transaction through aiosqlite, one await per statement: why the store does not use it."""
    try:
        import aiosqlite
    except ImportError:
        return None
    from agent_framework_history.backend import dumps_item
    from agent_framework_history_sqlite._chains import _FIND_SESSION, _INSERT_ITEM, _INSERT_TURN, _NEW_SESSION
    from agent_framework_history_sqlite._schema import new_head

    async with SQLiteHistoryStore(path):  # creates the schema
        pass
    partition = (KEY.user, "", KEY.session_id)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA wal_autocheckpoint = 0")  # no checkpoints at all: in its favour
        start = time.perf_counter()
        for batch in batches:  # head=None: the store's common path, one linear chain
            rows = [(item["id"], dumps_item(item)) for item in batch]
            await db.execute("BEGIN IMMEDIATE")
            async with db.execute(_FIND_SESSION, partition) as cursor:
                found = await cursor.fetchone()
            if found is None:
                cursor = await db.execute(_NEW_SESSION, partition)
                session, turn, last = cursor.lastrowid, 0, 0
            else:
                session, turn, last = found[0], found[1] or 0, found[4] or 0
            marks = ", ".join("?" * len(rows))
            async with db.execute(
                f"SELECT item_id, branch, seq FROM af_history_items WHERE session = ? AND item_id IN ({marks})",
                (session, *(item_id for item_id, _ in rows)),
            ) as cursor:
                if await cursor.fetchall():
                    raise AssertionError("the workload's ids are all new")
            await db.executemany(
                _INSERT_ITEM,
                [(session, last + n, turn + 1, 1, item_id, text) for n, (item_id, text) in enumerate(rows, 1)],
            )
            await db.execute(_INSERT_TURN, (session, turn + 1, new_head(), turn or None, 1, last + len(rows)))
            await db.execute("COMMIT")
        return time.perf_counter() - start


async def time_file_response_store(path: Path, turns: int) -> float:
    """The agent-server SDK's file store on its own write path (as the runner's anchor row)."""
    from azure.ai.agentserver.responses import FileResponseStore

    return (await run_sdk_store("FileResponseStore", FileResponseStore(path), turns)).append_s


async def settle(*leftovers: Path) -> None:
    """Remove a finished run's files and flush what the system still has to write.

    FileResponseStore rewrites a growing index on every turn, leaving hundreds of MB for the
    kernel to write back; without this, whichever subject runs next pays for it.
    """
    for path in leftovers:
        if path.is_dir():
            await asyncio.to_thread(shutil.rmtree, path, True)
        else:
            for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                sibling.unlink(missing_ok=True)
    await asyncio.to_thread(os.sync)


async def median_rounds(tmp: Path, subjects: dict[str, Callable[[Path], Awaitable[float | None]]]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for round_no in range(ROUNDS):
        for name, run in subjects.items():
            path = tmp / f"sqlite-{name.replace(' ', '-').replace('.', '')}-{round_no}"
            await settle()
            elapsed = await run(path)
            await settle(path)
            if elapsed is not None:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items() if values}


async def growth(tmp: Path) -> tuple[list[float], dict[str, float]]:
    """Per-turn append cost (µs) on a fresh file and on a file around ``BIG_TURNS`` turns.

    The grown store is built first (its per-window costs are returned too). Then each round
    appends ``WINDOW`` turns to a fresh file and, after it, the next ``WINDOW`` turns to the
    grown store, whose windows so lie around ``BIG_TURNS`` (the middle one ends there); the
    medians are compared. The two never run at once: a fresh file grows on
    disk with every commit, and other files' syncs at the same moment would slow it alone.
    """
    first_round = BIG_TURNS - (ROUNDS + 1) // 2 * WINDOW  # the middle round ends at BIG_TURNS
    batches = responses_turns(first_round + ROUNDS * WINDOW)
    await settle()
    grown = await SQLiteHistoryStore(tmp / "sqlite-grown.db").open()  # opened before any timing
    windows: list[float] = []
    times: dict[str, list[float]] = {"fresh": [], "grown": []}
    try:
        for first in range(0, first_round, WINDOW):
            start = time.perf_counter()
            for batch in batches[first : first + WINDOW]:
                await grown.append(KEY, batch)
            windows.append((time.perf_counter() - start) / WINDOW * 1e6)
        for round_no in range(ROUNDS):
            fresh = tmp / f"sqlite-fresh-{round_no}"
            await settle()
            times["fresh"].append(await time_store_append(fresh, batches[:WINDOW]))
            await settle(fresh)
            first = first_round + round_no * WINDOW
            start = time.perf_counter()
            for batch in batches[first : first + WINDOW]:
                await grown.append(KEY, batch)
            times["grown"].append(time.perf_counter() - start)
        if len(await grown.load(KEY)) != 2 * len(batches):
            raise AssertionError("sqlite append lost items")
    finally:
        await grown.aclose()
    return windows, {name: statistics.median(values) / WINDOW * 1e6 for name, values in times.items()}


async def big_load(tmp: Path) -> tuple[float, float, float | None]:
    """load(limit=50) on a 100,000-item session, in another session of the same file, and the SDK's get_items(50)."""
    items = [item for batch in responses_turns(BIG_ITEMS // 2) for item in batch]
    store = await SQLiteHistoryStore(tmp / "sqlite-big.db").open()  # opened before any timing
    try:
        for first in range(0, len(items), 1000):
            await store.append(KEY, items[first : first + 1000])
        small = SessionKey("small", user="bench-user")
        await store.append(small, items[:100])
        if len(await store.load(KEY, limit=LOAD_LIMIT)) != LOAD_LIMIT:
            raise AssertionError("load(limit=50) returned the wrong count")
        big_s = await best_of(201, lambda: store.load(KEY, limit=LOAD_LIMIT))
        small_s = await best_of(201, lambda: store.load(small, limit=LOAD_LIMIT))
    finally:
        await store.aclose()
    try:
        from agents.memory import SQLiteSession
    except ImportError:
        return big_s, small_s, None
    session = SQLiteSession(SESSION, tmp / "sdk-session-big.db")
    try:
        for first in range(0, len(items), 1000):
            await session.add_items(items[first : first + 1000])  # type: ignore[arg-type]
        sdk_s = await best_of(201, lambda: session.get_items(limit=LOAD_LIMIT))
    finally:
        session.close()
    return big_s, small_s, sdk_s


async def alternating(repeats: int, calls: dict[str, Callable[[], Awaitable[object]]]) -> dict[str, float]:
    """Median seconds per call of each subject, the subjects called in turn ``repeats`` times.

    Taking turns call by call, the subjects see the same moments of a noisy machine.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


async def loads_against_the_sdk(tmp: Path) -> dict[str, float]:
    """load() and load(limit=20) of 4,000 items against SQLiteSession.get_items on the same items, and at forks.

    The forked session holds the same 4,000 items on a chain that forks every ``FORK_EVERY``
    turns (each fork leaves a one-turn branch behind), so its tip's chain has twenty segments.
    """
    from agents.memory import SQLiteSession

    batches = responses_turns(LOAD_TURNS)
    forked = SessionKey("forked", user="bench-user")
    store = await SQLiteHistoryStore(tmp / "sqlite-loads.db").open()  # opened before any timing
    session = SQLiteSession(SESSION, tmp / "sdk-session-loads.db")
    try:
        for batch in batches:
            await store.append(KEY, batch)
            await session.add_items(batch)  # type: ignore[arg-type]
        head = None
        for n, batch in enumerate(batches):
            result = await store.append(forked, batch, head=head)
            if n % FORK_EVERY == FORK_EVERY - 1:  # the turn after this one goes on a new branch
                await store.append(forked, [{**batch[0], "id": f"msg_left-behind-{n}"}], head=result.head)
            head = result.head
        counts = [len(await store.load(forked, head=head)), len(await store.load(KEY)), len(await session.get_items())]
        if counts != [2 * LOAD_TURNS] * 3:
            raise AssertionError(f"a load returned the wrong count: {counts}")
        times = await alternating(
            21,
            {
                "load": lambda: store.load(KEY),
                "sdk": session.get_items,
                "fork load": lambda: store.load(forked, head=head),
            },
        )
        times |= await alternating(
            301,
            {
                "load20": lambda: store.load(KEY, limit=20),
                "sdk20": lambda: session.get_items(limit=20),
                "fork load20": lambda: store.load(forked, head=head, limit=20),
            },
        )
    finally:
        await store.aclose()
        session.close()
    return times


async def run(ctx: Context) -> None:
    turns = ctx.turns
    batches = responses_turns(turns)
    subjects: dict[str, Callable[[Path], Awaitable[float | None]]] = {
        "sqlite store.append": lambda path: time_store_append(path, batches),
        "SQLiteSession.add_items": lambda path: time_sdk_session(path, batches),
        "sqlite via HistoryStoreProvider": lambda path: time_provider(path, turns),
        "aiosqlite, await per statement": lambda path: time_aiosqlite(path, batches),
        "FileResponseStore": lambda path: time_file_response_store(path, turns),
    }
    medians = await median_rounds(ctx.tmp, subjects)
    kinds = {
        "sqlite store.append": "backend",
        "sqlite via HistoryStoreProvider": "backend",
        "aiosqlite, await per statement": "design",
    }
    for name, seconds in medians.items():
        if name != "FileResponseStore":  # the runner's anchors already hold a FileResponseStore row
            ctx.report.rows.append(Row(name, kinds.get(name, "anchor"), turns, seconds, note=f"median of {ROUNDS}"))
    ours = medians["sqlite store.append"]
    sdk = medians["SQLiteSession.add_items"]
    ctx.report.checks += [
        Check(f"sqlite: append ÷ SQLiteSession.add_items ({turns} turns, files)", ours / sdk, 1.0, "x"),
        Check(
            f"sqlite: via HistoryStoreProvider ÷ SQLiteSession.add_items ({turns} turns)",
            medians["sqlite via HistoryStoreProvider"] / sdk,
            2.0,
            "x",
        ),
        Check(
            f"sqlite: append speed-up over FileResponseStore ({turns} turns)",
            medians["FileResponseStore"] / ours,
            10.0,
            "x",
            higher_is_better=True,
        ),
    ]
    per_turn = {name: seconds / turns * 1e6 for name, seconds in medians.items()}
    ctx.report.notes.append(
        "sqlite per-turn append (µs, median of rounds): "
        + ", ".join(f"{name} {value:.0f}" for name, value in per_turn.items())
    )

    windows, per_turn_growth = await growth(ctx.tmp)
    ctx.report.checks.append(
        Check(
            f"sqlite: per-turn append at {BIG_TURNS:,} turns ÷ at {WINDOW:,}",
            per_turn_growth["grown"] / per_turn_growth["fresh"],
            1.5,
            "x",
        )
    )
    ctx.report.notes.append(
        f"sqlite per-turn append (µs, medians of {ROUNDS}): turns 0-{WINDOW:,} on a fresh file "
        f"{per_turn_growth['fresh']:.0f}, windows of {WINDOW:,} turns around {BIG_TURNS:,} "
        f"{per_turn_growth['grown']:.0f}; while building, each window of {WINDOW:,}: "
        + ", ".join(f"{w:.0f}" for w in windows)
    )

    big_s, small_s, sdk_s = await big_load(ctx.tmp)
    ctx.report.checks.append(
        Check(f"sqlite: load(limit={LOAD_LIMIT}) on a {BIG_ITEMS:,}-item session", big_s * 1e3, 5.0, "ms")
    )
    sdk_note = ""
    if sdk_s is not None:
        sdk_note = f", SQLiteSession.get_items({LOAD_LIMIT}) on the same {BIG_ITEMS:,} items {sdk_s * 1e3:.2f} ms"
    ctx.report.notes.append(
        f"sqlite load(limit={LOAD_LIMIT}): {big_s * 1e3:.2f} ms on {BIG_ITEMS:,} items, {small_s * 1e3:.2f} ms on a "
        f"100-item session of the same file{sdk_note}"
    )

    loads = await loads_against_the_sdk(ctx.tmp)
    items = 2 * LOAD_TURNS
    ctx.report.checks += [
        Check(f"sqlite: load() ÷ SQLiteSession.get_items(), {items:,} items", loads["load"] / loads["sdk"], 1.0, "x"),
        Check(
            f"sqlite: load(limit=20) ÷ SQLiteSession.get_items(limit=20), {items:,} items",
            loads["load20"] / loads["sdk20"],
            1.0,
            "x",
        ),
        Check(
            f"sqlite: load() at a tip {items // 2 // FORK_EVERY} forks deep ÷ load() of a linear chain",
            loads["fork load"] / loads["load"],
            1.25,
            "x",
        ),
        Check(
            f"sqlite: load(limit=20) at a tip {items // 2 // FORK_EVERY} forks deep ÷ on a linear chain",
            loads["fork load20"] / loads["load20"],
            2.0,  # one more step of the chain's walk per fork, whatever the length of the history
            "x",
        ),
    ]
    ctx.report.notes.append(
        f"sqlite loads of {items:,} items (ms): load() {loads['load'] * 1e3:.2f}, SQLiteSession.get_items() "
        f"{loads['sdk'] * 1e3:.2f}; load(limit=20) {loads['load20'] * 1e3:.3f}, get_items(limit=20) "
        f"{loads['sdk20'] * 1e3:.3f}; at a tip forked every {FORK_EVERY} turns: load() {loads['fork load'] * 1e3:.2f}, "
        f"load(limit=20) {loads['fork load20'] * 1e3:.3f}"
    )
