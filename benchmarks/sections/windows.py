"""Limited loads stay O(window): ``load(limit=20)`` on 20,000 items against 2,000, per backend.

memory, jsonl, sqlite, and PostgreSQL when a server answers (``AF_HISTORY_POSTGRES_DSN``; the schemas made
here are dropped at the end).

The items are the realistic tool mix of the conversion section (user text, assistant reasoning and
call, tool result, answer), so the window grows back to group boundaries as it does for real agents.
"""

from __future__ import annotations

from _harness import Check, Context, best_of

from agent_framework_history import HistoryStore, Item, SessionKey, open_store
from agent_framework_history.conversion import to_items
from sections.conversion import realistic_mix

NAME = None
SMALL = 2_000
BIG = 20_000
LIMIT = 20
REPEATS = 300
GOAL = 2.0  # the big session's limited load at most this many times the small one's

KEY = SessionKey("windows", user="bench-user")


def turns_of_items(total: int) -> list[list[Item]]:
    """Turns (user, reasoning + call, result, answer) until ``total`` items."""
    turns: list[list[Item]] = []
    count = 0
    messages = realistic_mix(total)  # more than enough
    for start in range(0, len(messages), 4):
        items = to_items(messages[start : start + 4])
        turns.append(items[: total - count])
        count += len(turns[-1])
        if count >= total:
            break
    return turns


async def fill(store: HistoryStore, key: SessionKey, total: int) -> None:
    head = None
    for turn in turns_of_items(total):
        head = (await store.append(key, turn, head=head)).head


async def limited_load_s(url: str, total: int) -> float:
    store = open_store(url)
    try:
        await fill(store, KEY, total)
        if len(await store.load(KEY)) != total:
            raise AssertionError(f"{url}: the session does not hold {total} items")
        return await best_of(REPEATS, lambda: store.load(KEY, limit=LIMIT))
    finally:
        await store.aclose()


async def _postgres_urls(ctx: Context) -> list[tuple[str, str, str]]:
    from sections.postgres import RUN, target

    if target(ctx.tmp) is None:
        ctx.report.notes.append("windows: no PostgreSQL server, its rows skipped")
        return []
    from sections.postgres import _dsn  # pyright: ignore[reportPrivateUsage]

    separator = "&" if "?" in _dsn() else "?"
    return [(f"{_dsn()}{separator}schema={RUN}_windows_{n}", f"{RUN}_windows_{n}", _dsn()) for n in (SMALL, BIG)]


async def _drop(dsn: str, schemas: list[str]) -> None:
    import asyncpg  # pyright: ignore[reportMissingTypeStubs]

    conn = await asyncpg.connect(dsn)  # pyright: ignore[reportUnknownMemberType]
    try:
        for name in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # pyright: ignore[reportUnknownMemberType]
    finally:
        await conn.close()  # pyright: ignore[reportUnknownMemberType]


async def run(ctx: Context) -> None:
    tmp = ctx.tmp
    subjects = [
        ("memory", "memory://", "memory://"),
        (
            "jsonl",
            f"jsonl://{(tmp / 'windows-jsonl-small').as_posix()}",
            f"jsonl://{(tmp / 'windows-jsonl-big').as_posix()}",
        ),
        (
            "sqlite",
            f"sqlite:///{(tmp / 'windows-small.db').as_posix()}",
            f"sqlite:///{(tmp / 'windows-big.db').as_posix()}",
        ),
    ]
    postgres = await _postgres_urls(ctx)
    if postgres:
        subjects.append(("postgres", postgres[0][0], postgres[1][0]))
    try:
        for backend, small_url, big_url in subjects:
            small = await limited_load_s(small_url, SMALL)
            big = await limited_load_s(big_url, BIG)
            ctx.report.checks.append(
                Check(
                    f"{backend}: load(limit={LIMIT}) at {BIG:,} items ÷ at {SMALL:,} (tool mix)", big / small, GOAL, "x"
                )
            )
            ctx.report.notes.append(
                f"{backend} load(limit={LIMIT}) on the tool mix: {small * 1e6:.0f} µs at {SMALL:,} items, "
                f"{big * 1e6:.0f} µs at {BIG:,}"
            )
    finally:
        if postgres:
            await _drop(postgres[0][2], [schema for _, schema, _ in postgres])
