"""Chain heads in the memory backend, beyond the conformance kit: bad heads, warnings, and the index's cost."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from agent_framework_history import Capability, SessionKey
from agent_framework_history._chains import ChainIndex
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_memory import MemoryHistoryStore

KEY = SessionKey("s1", user="alice")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_memory_store_declares_chain_heads() -> None:
    assert Capability.CHAIN_HEAD in MemoryHistoryStore().capabilities


@pytest.mark.asyncio
@pytest.mark.parametrize("head", [123, b"turn_x", ["turn_x"], ""])
async def test_a_head_that_is_not_a_string_is_rejected(head: Any) -> None:
    store = MemoryHistoryStore()
    with pytest.raises(ValueError, match="head must be None or a chain head string") as info:
        await store.append(KEY, [make_item(1)], head=head)
    assert repr(head) in str(info.value)
    with pytest.raises(ValueError, match="head must be None"):
        await store.load(KEY, head=head)
    assert await store.load(KEY) == []


@pytest.mark.asyncio
async def test_heads_are_random_turn_names() -> None:
    store = MemoryHistoryStore()
    heads = [(await store.append(KEY, make_turn(n))).head for n in range(3)]
    other = (await MemoryHistoryStore().append(KEY, make_turn(0))).head
    for head in [*heads, other]:
        assert head is not None and re.fullmatch(r"turn_[0-9a-f]{32}", head)
    assert len({*heads, other}) == 4  # a second store's first turn does not repeat this one's


@pytest.mark.asyncio
async def test_unknown_head_warns_and_starts_a_new_root_chain(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryHistoryStore()
    await store.append(KEY, make_turn(0))
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.memory"):
        result = await store.append(KEY, make_turn(0), head="turn_0123")
    assert result.stored == 2  # the new chain holds nothing yet, so the same ids are stored again
    assert "'turn_0123' is not a turn of session" in caplog.text
    assert ids(await store.load(KEY, head=result.head)) == ["msg_0u", "msg_0a"]
    assert ids(await store.load(KEY)) == ["msg_0u", "msg_0a"]  # the latest turn is the new root
    assert await store.load(KEY, head="turn_0123") == []


@pytest.mark.asyncio
async def test_nothing_new_without_a_head_returns_the_latest_turn() -> None:
    store = MemoryHistoryStore()
    first = await store.append(KEY, make_turn(0))
    fork = await store.append(KEY, make_turn(1), head=first.head)
    again = await store.append(KEY, make_turn(1))
    assert (again.stored, again.head) == (0, fork.head)


@pytest.mark.asyncio
async def test_limit_counts_back_across_many_small_turns() -> None:
    store = MemoryHistoryStore()
    head = None
    for n in range(30):
        head = (await store.append(KEY, [make_item(n)], head=head)).head
    fork = await store.append(KEY, [make_item("f")], head=(await store.append(KEY, [make_item(99)], head=head)).head)
    assert ids(await store.load(KEY, head=fork.head, limit=3)) == ["msg_29", "msg_99", "msg_f"]
    assert ids(await store.load(KEY, head=head, limit=2)) == ["msg_28", "msg_29"]


def test_a_linear_chain_is_one_branch_so_membership_costs_the_same_at_any_length() -> None:
    index = ChainIndex()
    tip = None
    for n in range(2000):
        tip = index.record(f"h{n}", tip, [f"id{n}"])
    assert tip is not None
    assert len({id(turn.branch) for turn in index.turns.values()}) == 1
    assert index.in_chain("id0", tip) and index.in_chain("id1999", tip)
    assert not index.in_chain("id1999", index.get("h1998"))


def test_forks_start_branches_and_membership_follows_them() -> None:
    index = ChainIndex()
    root = index.record("root", None, ["a"])
    left = index.record("left", root, ["b"])
    right = index.record("right", root, ["b", "c"])  # a fork: a branch of its own
    left2 = index.record("left2", left, ["d"])  # extends the left branch
    inner = index.record("inner", left, ["e"])  # a fork of a fork
    assert left2.branch is left.branch and right.branch is not root.branch and inner.branch is not left.branch
    assert index.in_chain("a", inner) and index.in_chain("b", inner) and not index.in_chain("d", inner)
    assert index.in_chain("c", right) and not index.in_chain("c", left2)
    assert index.in_chain("b", right) and index.in_chain("b", left2)
    assert not index.in_chain("a", None)
    assert index.latest is inner
    assert [turn.head for turn in inner.chain()] == ["inner", "left", "root"]
