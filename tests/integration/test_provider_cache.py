"""HistoryStoreProvider's message cache: only new items are read, and it is never stale or foreign.

Every check compares what the provider hands out with a plain conversion of what the store holds
(``to_messages(store.load(...))``, read through a store opened separately). The multi-process
checks write from another process (the conformance kit's child) between the provider's turns.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from agent_framework import Message

from agent_framework_history import (
    ChainTail,
    HistoryStoreProvider,
    SessionKey,
    bind_request_context,
    open_store,
)
from agent_framework_history._provider import keep_head, state_head
from agent_framework_history._sealed import SealedMessage
from agent_framework_history.conversion import to_items, to_messages
from agent_framework_history_memory import MemoryHistoryStore

from ._host import fresh_store_url

pytestmark = pytest.mark.asyncio


def turn(n: int, who: str = "p") -> list[Message]:
    return [
        Message("user", [f"{who} question {n}"], message_id=f"msg_{who}{n}u"),
        Message("assistant", [f"{who} answer {n}"], message_id=f"msg_{who}{n}a"),
    ]


def texts(messages: list[Message]) -> list[str]:
    return [message.text for message in messages]


class SpyStore(MemoryHistoryStore):
    """A memory store that records what each load_after returned."""

    tails: ClassVar[list[ChainTail]]

    def __init__(self) -> None:
        super().__init__()
        self.tails = []

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        tail = await super()._do_load_after(key, after, head)
        self.tails.append(tail)
        return tail


async def test_a_turn_reads_and_converts_only_what_is_new() -> None:
    store = SpyStore()
    provider = HistoryStoreProvider(store)
    state: dict[str, Any] = {}
    for n in range(5):
        loaded = await provider.get_messages("s", state=state)
        assert texts(loaded) == [t for i in range(n) for t in (f"p question {i}", f"p answer {i}")]
        await provider.save_messages("s", turn(n), state=state)
    first, second, *later = store.tails
    assert (first.continues, first.items) == (False, [])  # nothing cached yet, an empty session
    assert (second.continues, len(second.items)) == (False, 2)  # the first save named no earlier head
    assert len(later) == 3 and all(tail.continues and tail.items == [] for tail in later)  # saves extend entries
    key = SessionKey("s")
    await store.append(key, to_items(turn(9, "other")))  # another writer, at the latest turn
    loaded = await provider.get_messages("s")  # no state: the session's latest turn
    assert store.tails[-1].continues and [i["id"] for i in store.tails[-1].items] == ["msg_other9u", "msg_other9a"]
    assert [m.to_dict() for m in loaded] == [m.to_dict() for m in to_messages(await store.load(key))]


async def test_handed_out_messages_are_read_only_and_each_call_gets_its_own_list() -> None:
    provider = HistoryStoreProvider(MemoryHistoryStore())
    state: dict[str, Any] = {}
    await provider.save_messages("s", turn(0), state=state)
    first = await provider.get_messages("s", state=state)
    assert all(isinstance(message, SealedMessage) for message in first)
    with pytest.raises(TypeError, match="read-only"):
        first[0].contents.append(first[1].contents[0])
    with pytest.raises(TypeError, match="read-only"):
        first[0].contents[0].text = "changed"  # type: ignore[misc]
    first.clear()  # the list is the caller's
    again = await provider.get_messages("s", state=state)
    assert texts(again) == ["p question 0", "p answer 0"]


async def test_without_the_cache_or_with_a_limit_messages_are_plain() -> None:
    store = MemoryHistoryStore()
    for provider in (HistoryStoreProvider(store, cache_messages=0), HistoryStoreProvider(store, limit=10)):
        state: dict[str, Any] = {}
        await provider.save_messages(f"s{id(provider)}", turn(0), state=state)
        loaded = await provider.get_messages(f"s{id(provider)}", state=state)
        assert [type(message) for message in loaded] == [Message, Message]
        loaded[0].contents.append(loaded[1].contents[0])  # changeable, and nothing is kept
    with pytest.raises(ValueError, match="cache_messages"):
        HistoryStoreProvider(store, cache_messages=-1)


async def test_a_deleted_session_never_serves_cached_messages() -> None:
    store = MemoryHistoryStore()
    provider = HistoryStoreProvider(store)
    state: dict[str, Any] = {}
    await provider.save_messages("s", turn(0), state=state)
    assert len(await provider.get_messages("s", state=state)) == 2
    assert await store.delete(SessionKey("s")) is True
    assert await provider.get_messages("s", state=state) == []
    assert await provider.get_messages("s") == []
    await store.append(SessionKey("s"), to_items(turn(1, "new")))
    assert texts(await provider.get_messages("s")) == ["new question 1", "new answer 1"]


async def test_a_head_of_another_partition_never_serves_its_messages() -> None:
    store = MemoryHistoryStore()
    provider = HistoryStoreProvider(store)
    state: dict[str, Any] = {}
    with bind_request_context(user="alice"):
        await provider.save_messages("s", turn(0, "alice"), state=state)
        assert len(await provider.get_messages("s", state=state)) == 2
        alices = state_head(state, provider.session_key("s"))
    assert alices is not None
    with bind_request_context(user="bob"):
        assert await provider.get_messages("s", state=state) == []  # bob's slot of the state is empty
        keep_head(state, provider.session_key("s"), alices)  # a state that hands bob alice's head
        assert await provider.get_messages("s", state=state) == []
        await provider.save_messages("s", turn(0, "bob"), state=state)
        assert texts(await provider.get_messages("s", state=state)) == ["bob question 0", "bob answer 0"]


async def test_restored_earlier_heads_and_forks_load_their_own_chain() -> None:
    store = MemoryHistoryStore()
    provider = HistoryStoreProvider(store)
    state: dict[str, Any] = {}
    snapshots = []
    for n in range(3):
        await provider.get_messages("s", state=state)
        await provider.save_messages("s", turn(n), state=state)
        snapshots.append(json.loads(json.dumps(state)))  # what a host keeps per response
    fork = json.loads(json.dumps(snapshots[0]))
    assert texts(await provider.get_messages("s", state=fork)) == ["p question 0", "p answer 0"]
    await provider.save_messages("s", turn(7, "fork"), state=fork)
    assert texts(await provider.get_messages("s", state=fork)) == [
        "p question 0",
        "p answer 0",
        "fork question 7",
        "fork answer 7",
    ]
    assert len(await provider.get_messages("s", state=snapshots[2])) == 6
    assert len(await provider.get_messages("s", state=snapshots[1])) == 4
    assert len(await provider.get_messages("s")) == 4  # the latest turn is the fork's


# -- another process writes between the provider's turns ------------------------------------


@pytest.fixture(params=["sqlite", "jsonl", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(request.param, tmp_path, "cache") as url:
        yield url


@pytest_asyncio.fixture
async def provider(target: str) -> AsyncIterator[HistoryStoreProvider]:
    provider = HistoryStoreProvider(target)
    yield provider
    await provider.aclose()


async def other_process(target: str, ops: list[dict[str, Any]]) -> list[Any]:
    wire = [{**op, "key": [op["key"].session_id, op["key"].user, op["key"].chat]} for op in ops]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_framework_history.testing._child",
        json.dumps({"target": target, "ops": wire}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode == 0, err.decode(errors="replace")
    answer: list[Any] = json.loads(out)
    return answer


async def truth(target: str, key: SessionKey, head: str | None) -> list[dict[str, Any]]:
    async with open_store(target) as store:
        return [m.to_dict() for m in to_messages(await store.load(key, head=head))]


async def test_another_process_appends_forks_and_deletes_between_turns(
    provider: HistoryStoreProvider, target: str
) -> None:
    assert provider.store.capabilities >= {"chain_head", "load_after", "multi_process"}
    state: dict[str, Any] = {}
    with bind_request_context(user="alice", chat="c"):
        key = provider.session_key("s")

        async def check(state: dict[str, Any] | None) -> list[Message]:
            loaded = await provider.get_messages("s", state=state)
            head = state_head(state, key)
            assert [m.to_dict() for m in loaded] == await truth(target, key, head)
            return loaded

        for n in range(3):
            await check(state)
            await provider.save_messages("s", turn(n), state=state)
        mine = state_head(state, key)
        first = json.loads(json.dumps(state))

        # The other process continues the chain at the provider's head; the provider follows it.
        [theirs] = await other_process(target, [{"op": "append", "key": key, "items": to_items(turn(3, "x"))}])
        assert len(await check(None)) == 8  # no head: the latest turn, the other process's
        assert len(await check(state)) == 6  # the provider's own head: its chain has not changed
        keep_head(state, key, theirs)
        assert texts(await check(state))[-2:] == ["x question 3", "x answer 3"]

        # It forks from the provider's earlier head; both chains load exactly.
        [fork] = await other_process(
            target, [{"op": "append", "key": key, "items": to_items(turn(4, "f")), "head": mine}]
        )
        assert len(await check(None)) == 8 and texts(await check(None))[-1] == "f answer 4"
        assert len(await check(state)) == 8 and texts(await check(state))[-1] == "x answer 3"
        keep_head(state, key, fork)
        await provider.save_messages("s", turn(5), state=state)
        assert texts(await check(state))[-4:] == ["f question 4", "f answer 4", "p question 5", "p answer 5"]

        # It deletes the session: no cached message is served for any head.
        assert await other_process(target, [{"op": "delete", "key": key}]) == [True]
        assert await check(state) == []
        assert await check(first) == []
        assert await check(None) == []
        await other_process(target, [{"op": "append", "key": key, "items": to_items(turn(6, "new"))}])
        assert texts(await check(None)) == ["new question 6", "new answer 6"]
        assert await check(state) == []  # the old head names nothing in the new chain
