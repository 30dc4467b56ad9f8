"""Chains of turns in SQLite: heads, branches, and how many statements a load at a head costs."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_framework_history import SessionKey
from agent_framework_history._base import WINDOW_SLACK
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_sqlite import SQLiteHistoryStore
from agent_framework_history_sqlite._chains import _CHAIN_AT_HEAD, _CHAIN_AT_LATEST

KEY = SessionKey("s1", user="alice")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteHistoryStore]:
    async with SQLiteHistoryStore(tmp_path / "h.db") as opened:
        yield opened


async def statements_of(store: SQLiteHistoryStore, call: Any, *, on_loop: bool = False) -> list[str]:
    """The SQL statements the store's worker connection ran while ``call()`` was awaited.

    ``on_loop``: those its event-loop connection (``Database.glance``) ran instead, without the
    ``BEGIN`` and ``COMMIT`` of its read snapshot.
    """
    seen: list[str] = []
    if on_loop:
        store._db.glance(lambda conn: None)  # opens the connection
        glance = store._db._glance_conn
        assert glance is not None
        glance.set_trace_callback(seen.append)
        try:
            await call()
        finally:
            glance.set_trace_callback(None)
        return [statement for statement in seen if statement not in ("BEGIN", "COMMIT")]
    await store._db.read(lambda conn: conn.set_trace_callback(seen.append))
    try:
        await call()
    finally:
        await store._db.read(lambda conn: conn.set_trace_callback(None))
    return seen


def rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_heads_are_random_and_not_turn_numbers(store: SQLiteHistoryStore) -> None:
    heads = [(await store.append(KEY, make_turn(n))).head for n in range(3)]
    other = (await store.append(SessionKey("s2"), make_turn(0))).head
    for head in [*heads, other]:
        assert head is not None and re.fullmatch(r"turn_[0-9a-f]{32}", head), head
    assert len({*heads, other}) == 4


@pytest.mark.asyncio
async def test_turns_and_branches_are_recorded_as_documented(store: SQLiteHistoryStore, tmp_path: Path) -> None:
    h1 = (await store.append(KEY, make_turn(1))).head
    h2 = (await store.append(KEY, make_turn(2), head=h1)).head
    (await store.append(KEY, make_turn(3), head=h2)).head  # continues branch 1
    await store.append(KEY, make_turn(4), head=h1)  # a fork: branch 4
    await store.append(KEY, make_turn(5), head=h2)  # another fork, from turn 2: branch 5
    await store.append(KEY, make_turn(6))  # the latest turn (5): continues branch 5
    turns = rows(tmp_path / "h.db", "SELECT turn, parent, branch, last_seq FROM af_history_turns ORDER BY turn")
    assert turns == [(1, None, 1, 2), (2, 1, 1, 4), (3, 2, 1, 6), (4, 1, 4, 8), (5, 2, 5, 10), (6, 5, 5, 12)]
    items = rows(tmp_path / "h.db", "SELECT seq, turn, branch, item_id FROM af_history_items ORDER BY seq")
    assert [(seq, turn, branch) for seq, turn, branch, _ in items] == [
        (n, (n + 1) // 2, [1, 1, 1, 4, 5, 5][(n - 1) // 2]) for n in range(1, 13)
    ]
    assert _ids(await store.load(KEY)) == [f"msg_{n}{r}" for n in (1, 2, 5, 6) for r in "ua"]


@pytest.mark.asyncio
async def test_load_at_a_deep_fork_reads_one_statement_per_segment_not_per_turn(store: SQLiteHistoryStore) -> None:
    head = None
    fork_points: list[str] = []
    for n in range(60):  # three forks, each from the turn before the latest: four segments
        result = await store.append(KEY, make_turn(n), head=head)
        assert result.head is not None
        head = result.head
        if n in (19, 39, 49):
            fork_points.append(head)
            await store.append(KEY, [make_item(f"abandoned-{n}")], head=head)  # the branch left behind
    seen = await statements_of(store, lambda: store.load(KEY, head=head))
    assert len(seen) == 1 + 4  # the chain's segments, then each segment's rows
    assert _ids(await store.load(KEY, head=head)) == [f"msg_{n}{r}" for n in range(60) for r in "ua"]
    # A limited load reads limit + WINDOW_SLACK rows (the window may grow back to a group boundary), on the
    # event loop's connection: a few index probes and rows cost less than the trip to the worker.
    limited = lambda: store.load(KEY, head=head, limit=20 - WINDOW_SLACK)  # noqa: E731
    assert await statements_of(store, limited) == []
    seen = await statements_of(store, limited, on_loop=True)
    assert len(seen) == 2  # the segments, then the 20 rows from the tip's segment alone
    assert _ids(await store.load(KEY, head=head, limit=4)) == [f"msg_{n}{r}" for n in range(58, 60) for r in "ua"]
    seen = await statements_of(store, lambda: store.load(KEY, head=head, limit=24 - WINDOW_SLACK), on_loop=True)
    assert len(seen) == 3  # ten turns on the tip's segment, two more on the one before it
    assert _ids(await store.load(KEY, head=head, limit=24)) == [f"msg_{n}{r}" for n in range(48, 60) for r in "ua"]


@pytest.mark.asyncio
async def test_an_append_is_a_handful_of_statements_however_long_the_history(store: SQLiteHistoryStore) -> None:
    for n in range(200):
        await store.append(KEY, make_turn(n))
    seen = await statements_of(store, lambda: store.append(KEY, make_turn(200)))
    # BEGIN, session and latest turn, id lookup, the two items, the turn, COMMIT; the turn's INSERT is traced
    # twice more, for the trigger that times the session's last activity and for the trigger's UPDATE
    assert len(seen) == 9, seen
    assert sum(s.startswith("INSERT INTO af_history_turns") for s in seen) == 3, seen


def plan(path: Path, query: str, params: tuple[Any, ...] | dict[str, Any]) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", params))
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_queries_use_the_indexes_and_never_sort(store: SQLiteHistoryStore, tmp_path: Path) -> None:
    from agent_framework_history_sqlite._chains import _SEGMENT_LATEST_ROWS, _SEGMENT_ROWS

    await store.append(KEY, make_turn(0))
    path = tmp_path / "h.db"
    for query in (_SEGMENT_ROWS, _SEGMENT_LATEST_ROWS):
        params = (1, 1, 10) if query == _SEGMENT_ROWS else (1, 1, 10, 20)
        text = plan(path, query, params)
        assert "USING INDEX af_history_items_by_branch (session=? AND branch=? AND seq<?)" in text, text
        assert "TEMP B-TREE" not in text, text
    keyed = {"user": "alice", "chat": "", "session_id": "s1", "head": "turn_x"}
    for query in (_CHAIN_AT_LATEST, _CHAIN_AT_HEAD):
        text = plan(path, query, keyed)
        assert "SCAN af_history_turns" not in text and "SCAN t" not in text, text


@pytest.mark.asyncio
@pytest.mark.parametrize("head", [1, b"turn_x", ["turn_x"], 2.5])
async def test_a_head_that_is_not_a_string_is_rejected(store: SQLiteHistoryStore, head: Any) -> None:
    with pytest.raises(ValueError, match=r"head must be None or a chain head string.*AppendResult\.head"):
        await store.load(KEY, head=head)
    with pytest.raises(ValueError, match="head must be None or a chain head string"):
        await store.append(KEY, make_turn(0), head=head)
    assert await store.load(KEY) == []


@pytest.mark.asyncio
async def test_an_unknown_head_warns_and_starts_a_new_root(
    store: SQLiteHistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    first = (await store.append(KEY, make_turn(0))).head
    unknown = "turn_" + "0" * 32
    caplog.set_level(logging.WARNING, logger="agent_framework_history_sqlite")
    partition = (KEY.user or "", KEY.chat or "", KEY.session_id)
    for limit in (None, 1):
        caplog.clear()
        assert await store.load(KEY, head=unknown, limit=limit) == []
        assert [r.getMessage() for r in caplog.records] == [
            f"load: {partition!r} has no turn with head {unknown!r}; it names an empty chain."
        ]
    caplog.clear()
    root = await store.append(KEY, make_turn(0), head=unknown)  # the same ids: stored on the new root
    assert root.stored == 2 and root.head not in (None, first)
    assert [r.getMessage() for r in caplog.records] == [
        f"append: {partition!r} has no turn with head {unknown!r}; starting a new chain."
    ]
    assert _ids(await store.load(KEY, head=root.head)) == ["msg_0u", "msg_0a"]
    assert _ids(await store.load(KEY, head=first)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_a_huge_limit_is_all(store: SQLiteHistoryStore) -> None:
    head = (await store.append(KEY, make_turn(0))).head
    fork = (await store.append(KEY, make_turn(1), head=head)).head
    for limit in (10**20, 2**63, 2**63 - 1, 5):
        assert _ids(await store.load(KEY, limit=limit)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert _ids(await store.load(KEY, head=fork, limit=limit)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_concurrent_appends_without_a_head_make_one_linear_chain(store: SQLiteHistoryStore) -> None:
    results = await asyncio.gather(*(store.append(KEY, make_turn(n)) for n in range(30)))
    heads = [result.head for result in results]
    assert len(set(heads)) == 30
    loaded = _ids(await store.load(KEY))
    assert len(loaded) == 60
    # every head is a prefix of the one chain: nothing forked
    prefixes = sorted([_ids(await store.load(KEY, head=head)) for head in heads], key=len)
    assert [len(p) for p in prefixes] == list(range(2, 61, 2))
    assert all(p == loaded[: len(p)] for p in prefixes)


# -- a model: a tree of turns -------------------------------------------------------------


@dataclass
class Model:
    """Turns as the contract describes them: each head's parent and the ids it stored."""

    parent: dict[str, str | None] = field(default_factory=lambda: {})
    stored: dict[str, list[str]] = field(default_factory=lambda: {})
    latest: str | None = None

    def chain(self, head: str | None) -> list[str]:
        ids: list[str] = []
        while head is not None:
            ids[:0] = self.stored[head]
            head = self.parent[head]
        return ids


UNKNOWN = "turn_" + "f" * 32

steps = st.lists(
    st.tuples(
        st.sampled_from(["append", "load"]),
        st.one_of(st.none(), st.integers(0, 20), st.just(-1)),  # head: None, the n-th head seen, unknown
        st.lists(st.integers(0, 9), max_size=4),
        st.one_of(st.none(), st.integers(1, 9)),
    ),
    max_size=25,
)


async def check_against_model(ops: list[tuple[str, int | None, list[int], int | None]]) -> None:
    model = Model()
    heads: list[str] = []
    key = SessionKey("m")
    async with SQLiteHistoryStore(":memory:") as store:
        for op, pick, numbers, limit in ops:
            if pick is None or (not heads and pick >= 0):
                head = None
            else:
                head = UNKNOWN if pick < 0 else heads[pick % len(heads)]
            parent = model.latest if head is None else (head if head in model.parent else None)
            if op == "load":
                expected = model.chain(parent)
                if limit is not None:
                    expected = expected[-limit:]
                assert _ids(await store.load(key, head=head, limit=limit)) == expected
                continue
            chain = model.chain(parent)
            fresh = [i for i in dict.fromkeys(f"msg_{n}" for n in numbers) if i not in chain]
            result = await store.append(key, [make_item(n) for n in numbers], head=head)
            assert result.stored == len(fresh)
            if not numbers:
                continue  # the core answers an empty append without asking the store
            if not fresh:
                assert result.head == parent
                continue
            assert result.head is not None and result.head not in model.parent
            model.parent[result.head], model.stored[result.head] = parent, fresh
            model.latest = result.head
            heads.append(result.head)
        for head in heads:
            assert _ids(await store.load(key, head=head)) == model.chain(head)


@settings(max_examples=80, deadline=None)
@given(steps)
def test_store_matches_a_tree_of_turns(ops: list[tuple[str, int | None, list[int], int | None]]) -> None:
    asyncio.run(check_against_model(ops))


@pytest.mark.asyncio
async def test_a_damaged_parent_that_loops_ends_the_walk(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(KEY, make_turn(0))
        await store.append(KEY, make_turn(1))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE af_history_turns SET parent = 2 WHERE turn = 1")  # turn 1's parent is its own child
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        assert _ids(await store.load(KEY)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert _ids(await store.load(KEY, limit=3)) == ["msg_0a", "msg_1u", "msg_1a"]
        assert (await store.append(KEY, make_turn(1) + make_turn(2))).stored == 2
