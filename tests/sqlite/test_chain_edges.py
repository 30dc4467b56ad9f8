"""Edges of the SQLite store's chains that the conformance kit does not reach (found by mutation testing)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent_framework_history import CorruptDataError, SessionKey
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_sqlite import SQLiteHistoryStore, open_sqlite_store

KEY = SessionKey("s1", user="alice", chat="c")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def rows(path: Path, query: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteHistoryStore]:
    async with SQLiteHistoryStore(tmp_path / "h.db") as opened:
        yield opened


@pytest.mark.asyncio
async def test_only_an_unknown_head_warns_on_append(
    store: SQLiteHistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_framework_history_sqlite")
    first = await store.append(KEY, make_turn(0))  # a new session: no head to look for, nothing to warn of
    await store.append(KEY, make_turn(1), head=first.head)
    assert caplog.records == []
    await store.append(KEY, make_turn(2), head="turn_" + "f" * 32)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "turn_" + "f" * 32 in record.getMessage()


@pytest.mark.asyncio
async def test_an_append_at_the_end_of_an_older_branch_continues_that_branch(
    store: SQLiteHistoryStore, tmp_path: Path
) -> None:
    one = await store.append(KEY, make_turn(1))
    two = await store.append(KEY, make_turn(2), head=one.head)
    fork = await store.append(KEY, make_turn(3), head=one.head)  # turn 3: a new branch from turn 1
    four = await store.append(KEY, make_turn(4), head=two.head)  # turn 2 still ends branch 1, though not latest
    turns = rows(tmp_path / "h.db", "SELECT turn, parent, branch FROM af_history_turns ORDER BY turn")
    assert turns == [(1, None, 1), (2, 1, 1), (3, 1, 3), (4, 2, 1)]
    assert _ids(await store.load(KEY, head=four.head)) == ["msg_1u", "msg_1a", "msg_2u", "msg_2a", "msg_4u", "msg_4a"]
    assert _ids(await store.load(KEY, head=fork.head)) == ["msg_1u", "msg_1a", "msg_3u", "msg_3a"]


@pytest.mark.asyncio
async def test_more_known_ids_than_one_lookup_holds_are_all_found(store: SQLiteHistoryStore) -> None:
    items = [make_item(n) for n in range(1200)]  # three IN (...) lookups of at most 500 ids
    assert (await store.append(KEY, items)).stored == 1200
    again = await store.append(KEY, [*items, make_item("new")])
    assert again.stored == 1
    assert len(await store.load(KEY)) == 1201


@pytest.mark.asyncio
async def test_a_session_row_without_turns_takes_its_first_turn(tmp_path: Path) -> None:
    # A session row with no items (list_sessions passes over such rows) gets its turns like a new session.
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(SessionKey("other"), make_turn(0))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO af_history_sessions (user, chat, session_id) VALUES ('alice', 'c', 's1')")
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        assert [key async for key in store.list_sessions(user="alice")] == []
        result = await store.append(KEY, make_turn(1))
        assert result.stored == 2 and result.head is not None
        assert _ids(await store.load(KEY)) == ["msg_1u", "msg_1a"]
        assert _ids(await store.load(KEY, head=result.head)) == ["msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_a_corrupt_row_is_located_by_its_session_key(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(KEY, make_turn(0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE af_history_items SET item = '[1' WHERE seq = 1")
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        with pytest.raises(CorruptDataError) as raised:
            await store.load(KEY)
    assert raised.value.location is not None
    assert str(path) in raised.value.location and repr(KEY) in raised.value.location


@pytest.mark.parametrize("read", ["load", "load(limit)", "load_after"])
@pytest.mark.asyncio
async def test_a_corrupt_row_is_located_by_its_row_whichever_read_meets_it(tmp_path: Path, read: str) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        first = await store.append(KEY, make_turn(0))
        await store.append(KEY, make_turn(1))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE af_history_items SET item = '[1' WHERE seq = 3")  # the second turn's first item
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        # a limited load and a load_after of a few items are read on the event loop, then again on the worker
        reading = {
            "load": lambda: store.load(KEY),
            "load(limit)": lambda: store.load(KEY, limit=2),
            "load_after": lambda: store.load_after(KEY, first.head),  # (the second turn)
        }[read]()
        with pytest.raises(CorruptDataError) as raised:
            await reading
        # the same error at the same place as a whole load: the row is named by its file, table, key and seq
        assert raised.value.location == f"{path}: table af_history_items, {KEY!r}, seq 3"
        assert str(raised.value).startswith("A stored item cannot be read back (")
        tail = await store.load_after(KEY, None, head=first.head)  # the first turn alone is still readable
        assert [item["id"] for item in tail.items] == ["msg_0u", "msg_0a"] and not tail.continues


@pytest.mark.asyncio
async def test_repr_names_the_class_and_path(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        assert repr(store) == f"SQLiteHistoryStore({str(tmp_path / 'h.db')!r})"


@pytest.mark.asyncio
async def test_open_sqlite_store_without_a_url_opens_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_sqlite_store() as store:
        await store.append(KEY, make_turn(0))
        assert store.path == tmp_path / ".af-history" / "history.db"
    assert (tmp_path / ".af-history" / "history.db").is_file()


@pytest.mark.asyncio
async def test_load_after_a_first_turn_of_one_item_reads_only_what_follows(tmp_path: Path) -> None:
    # The first turn ends at seq 1: the smallest turn there is, still a turn the chain continues from.
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        first = await store.append(KEY, [make_item("only")])
        second = await store.append(KEY, make_turn(1))
        tail = await store.load_after(KEY, first.head)
        assert (tail.continues, tail.head) == (True, second.head)
        assert _ids(tail.items) == ["msg_1u", "msg_1a"]
        assert (await store.load_after(KEY, second.head)).items == []
