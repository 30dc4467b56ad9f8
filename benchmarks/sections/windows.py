"""Limited loads stay O(window): ``load(limit=20)`` on 20,000 items against 2,000, per embedded backend.

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


async def run(ctx: Context) -> None:
    for backend, url_for in (
        ("memory", lambda tmp, n: "memory://"),
        ("jsonl", lambda tmp, n: f"jsonl://{(tmp / f'windows-jsonl-{n}').as_posix()}"),
        ("sqlite", lambda tmp, n: f"sqlite:///{(tmp / f'windows-{n}.db').as_posix()}"),
    ):
        small = await limited_load_s(url_for(ctx.tmp, SMALL), SMALL)
        big = await limited_load_s(url_for(ctx.tmp, BIG), BIG)
        ctx.report.checks.append(
            Check(f"{backend}: load(limit={LIMIT}) at {BIG:,} items ÷ at {SMALL:,} (tool mix)", big / small, GOAL, "x")
        )
        ctx.report.notes.append(
            f"{backend} load(limit={LIMIT}) on the tool mix: {small * 1e6:.0f} µs at {SMALL:,} items, "
            f"{big * 1e6:.0f} µs at {BIG:,}"
        )
