"""HistoryStoreBase's own work around a backend: activity and pruning, window growth, defaults and its messages.

The backends' conformance runs cover these through real stores; here a store of a few lines shows what the
base class itself checks, passes on and refuses, so the core's tests (and its mutation score) stand alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from agent_framework_history import (
    ALL,
    Capability,
    ChainTail,
    Item,
    SessionActivity,
    SessionKey,
    StoreClosedError,
    UnsupportedOperationError,
)
from agent_framework_history._base import WINDOW_SLACK, check_before, check_head
from agent_framework_history.backend import AllPartitions, HistoryStoreBase

from .conftest import ListStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class TimedStore(ListStore):
    """A ListStore that knows when each session was last appended to (set by the test)."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = ListStore.CAPABILITIES | {Capability.ACTIVITY}

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[SessionKey, datetime] = {}
        self.listed: list[tuple[object, object]] = []

    async def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        self.listed.append((user, chat))
        for key, when in self.times.items():
            if key.matches(user, chat):
                yield SessionActivity(key, when)

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        if self.times[key] >= before:
            return False
        del self.times[key]
        return True


class BareStore(HistoryStoreBase):
    """Implements only what a backend must: every optional operation is the base class's refusal."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> Any:
        raise AssertionError("not called")

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        return []


async def attempt(store: HistoryStoreBase, operation: str, key: SessionKey | None = None) -> object:
    """Run one optional operation to its end (an async generator is drained)."""
    if operation == "delete":
        return await store.delete(key or SessionKey("s"))
    if operation == "list_sessions":
        return [k async for k in store.list_sessions()]
    if operation in ("list", "list_activity"):
        return [a async for a in store.list_activity()]
    return await store.prune(NOW)


def timed(**ages: timedelta) -> TimedStore:
    store = TimedStore()
    for name, age in ages.items():
        store.times[SessionKey(name, user="u")] = NOW - age
    return store


@pytest.mark.asyncio
async def test_prune_removes_only_sessions_idle_since_strictly_before_the_cutoff() -> None:
    store = timed(old=timedelta(days=10), edge=timedelta(days=5), new=timedelta(days=1))
    cutoff = NOW - timedelta(days=5)
    planned = await store.prune(cutoff, dry_run=True)
    assert [a.key.session_id for a in planned] == ["old"]  # "edge" was last used exactly at the cutoff: kept
    assert set(store.times) == {SessionKey(n, user="u") for n in ("old", "edge", "new")}  # a dry run removes nothing
    removed = await store.prune(cutoff)
    assert removed == [SessionActivity(SessionKey("old", user="u"), NOW - timedelta(days=10))]
    assert sorted(k.session_id for k in store.times) == ["edge", "new"]


@pytest.mark.asyncio
async def test_prune_reports_only_what_it_removed() -> None:
    # A session used again between the listing and its removal is kept, and not reported.
    store = timed(old=timedelta(days=10), busy=timedelta(days=10))

    class Racing(TimedStore):
        async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
            if key.session_id == "busy":
                self.times[key] = NOW  # appended to just now, by someone else
            return await super()._do_delete_idle(key, before)

    racing = Racing()
    racing.times = dict(store.times)
    removed = await racing.prune(NOW - timedelta(days=1))
    assert [a.key.session_id for a in removed] == ["old"]
    assert [k.session_id for k in racing.times] == ["busy"]


@pytest.mark.asyncio
async def test_list_activity_and_prune_pass_the_partition_on() -> None:
    store = timed(a=timedelta(days=3))
    assert [a.key async for a in store.list_activity(user="u", chat=ALL)] == [SessionKey("a", user="u")]
    assert [a async for a in store.list_activity(user="v")] == []
    await store.prune(NOW, user="v", chat="c", dry_run=True)
    assert store.listed == [("u", ALL), ("v", None), ("v", "c")]
    assert await store.prune(NOW, user="v") == [] and len(store.times) == 1


@pytest.mark.parametrize("field", ["user", "chat"])
@pytest.mark.asyncio
async def test_list_activity_and_prune_name_a_bad_partition_value(field: str) -> None:
    store = timed(a=timedelta(days=3))
    with pytest.raises(ValueError, match=rf"^SessionKey\.{field} "):
        [a async for a in store.list_activity(**{field: 7})]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"^SessionKey\.{field} "):
        await store.prune(NOW, **{field: ""})
    assert store.listed == [] and len(store.times) == 1  # refused before the backend was asked


@pytest.mark.parametrize(("operation", "call"), [("list_activity", "list"), ("prune", "prune")])
@pytest.mark.asyncio
async def test_activity_operations_after_aclose_name_themselves(operation: str, call: str) -> None:
    store = timed()
    await store.aclose()
    with pytest.raises(StoreClosedError, match=rf"^TimedStore\.{operation}\(\) was called after aclose\(\)"):
        await attempt(store, call)


def test_check_before_says_what_it_got_and_what_to_pass() -> None:
    with pytest.raises(ValueError) as not_a_datetime:
        check_before("yesterday")
    assert str(not_a_datetime.value) == (
        "before must be a datetime, got str 'yesterday'; for example datetime.now(UTC) - timedelta(days=90)."
    )
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError) as naive_error:
        check_before(naive)
    assert str(naive_error.value) == (
        f"before must be timezone-aware (a naive datetime is ambiguous), got {naive!r}; "
        "use datetime.now(UTC) - timedelta(...) or give it a tzinfo."
    )
    assert check_before(NOW) is NOW


def test_check_head_names_the_type_it_got() -> None:
    with pytest.raises(ValueError, match=r"got int 5\.$"):
        check_head(5)
    with pytest.raises(ValueError, match=r"got str ''\.$"):
        check_head("")


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ("delete", "BareStore cannot delete sessions."),
        ("list_sessions", "BareStore cannot list sessions."),
        ("list_activity", "BareStore does not know when its sessions were last used."),
        ("prune", "BareStore does not know when its sessions were last used."),
    ],
)
@pytest.mark.asyncio
async def test_a_store_without_an_optional_operation_refuses_it_by_name(operation: str, message: str) -> None:
    store = BareStore()
    key = SessionKey("s")
    with pytest.raises(UnsupportedOperationError) as raised:
        await attempt(store, operation, key)
    assert str(raised.value) == message


@pytest.mark.asyncio
async def test_a_bare_store_refuses_an_idle_delete_by_name() -> None:
    store = BareStore()
    with pytest.raises(
        UnsupportedOperationError, match=r"^BareStore does not know when its sessions were last used\.$"
    ):
        await store._do_delete_idle(SessionKey("s"), NOW)


class Recorder(ListStore):
    """Records what the base class asks the backend for, and can answer load_after natively."""

    def __init__(self, tip: str | None = None) -> None:
        super().__init__()
        self.loads: list[tuple[int | None, str | None]] = []
        self.after: list[tuple[str | None, str | None]] = []
        self.tip = tip

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        self.loads.append((limit, head))
        return await super()._do_load(key, limit, head)

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        self.after.append((after, head))
        return ChainTail(items=await super()._do_load(key, None, head), head=self.tip, continues=after is not None)


def call(n: int) -> Item:
    return {"type": "function_call", "id": f"fc_{n}", "call_id": f"c{n}", "name": "f", "arguments": "{}"}


def result(n: int) -> Item:
    return {"type": "function_call_output", "id": f"fo_{n}", "call_id": f"c{n}", "output": "ok"}


def message(n: int) -> Item:
    return {"type": "message", "id": f"m_{n}", "role": "user", "content": [{"type": "input_text", "text": f"{n}"}]}


@pytest.mark.asyncio
async def test_a_whole_load_passes_the_head_and_a_window_grows_four_times_at_a_time() -> None:
    store = Recorder()
    key = SessionKey("s")
    # One call far back, then 200 results of it: a window of 2 must reach back to the call.
    await store.append(key, [message(0), call(1), *({**result(1), "id": f"fo_{n}"} for n in range(200))])
    await store.load(key, head="h1")
    window = await store.load(key, limit=2, head="h2")
    assert window[0]["id"] == "fc_1" and len(window) == 201  # grown back to the call, no further
    first = 2 + WINDOW_SLACK
    assert store.loads == [(None, "h1"), (first, "h2"), (first * 4, "h2"), (first * 16, "h2"), (first * 64, "h2")]


@pytest.mark.asyncio
async def test_a_window_that_needs_nothing_more_is_the_latest_items() -> None:
    store = Recorder()
    key = SessionKey("s")
    await store.append(key, [message(n) for n in range(10)])
    assert [i["id"] for i in await store.load(key, limit=3)] == ["m_7", "m_8", "m_9"]
    assert store.loads == [(3 + WINDOW_SLACK, None)]


@pytest.mark.asyncio
async def test_load_after_passes_both_heads_and_returns_the_backends_tip() -> None:
    store = Recorder(tip="t9")
    key = SessionKey("s")
    await store.append(key, [message(0)])
    tail = await store.load_after(key, "t1", head="t2")
    assert store.after == [("t1", "t2")]
    assert (tail.head, tail.continues, [i["id"] for i in tail.items]) == ("t9", True, ["m_0"])


@pytest.mark.asyncio
async def test_a_bad_item_is_named_by_its_place_in_the_call() -> None:
    store = ListStore()
    with pytest.raises(ValueError, match=r"items\[1\]\.content\[0\]\.text"):
        await store.append(
            SessionKey("s"), [message(0), {**message(1), "content": [{"type": "input_text", "text": {1}}]}]
        )
