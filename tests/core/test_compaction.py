"""Compaction records: how a view is read back from the chain, and what a record holds."""

from __future__ import annotations

import pytest
from agent_framework import Message

from agent_framework_history import Item, SessionKey
from agent_framework_history._base import WINDOW_SLACK
from agent_framework_history._compaction import MARKER_TYPE, compaction_record, kept_run, load_view
from agent_framework_history.conversion import to_items, to_messages
from agent_framework_history.testing import make_item

from .conftest import ListStore

KEY = SessionKey("s")


class CountingListStore(ListStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int | None] = []

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        self.reads.append(limit)
        return await super()._do_load(key, limit, head)


def marker(record_id: str, items: int, keep_from: str | None = None) -> Item:
    found: Item = {"type": MARKER_TYPE, "id": record_id, "items": items}
    if keep_from is not None:
        found["keep_from"] = keep_from
    return found


def ids(items: list[Item]) -> list[str]:
    return [item["id"] for item in items]


@pytest.mark.asyncio
async def test_a_view_is_the_copies_then_the_kept_run_then_what_followed() -> None:
    store = ListStore()
    old = [make_item(n) for n in range(10)]
    summary = {**make_item("summary", "SUMMARY"), "id": "cmp_1/summary"}
    await store.append(KEY, [*old, marker("cmp_1", 1, keep_from="msg_7"), summary, make_item(10), make_item(11)])
    view = await load_view(store, KEY, limit=None, head=None, guess=None)
    assert ids(view.items) == ["cmp_1/summary", "msg_7", "msg_8", "msg_9", "msg_10", "msg_11"]
    assert view.compacted and view.plain_ids == {"msg_10", "msg_11"}  # the run before the copies is not one
    assert view.span == 7  # from msg_7 to the head
    limited = await load_view(store, KEY, limit=3, head=None, guess=None)
    assert ids(limited.items) == ["msg_9", "msg_10", "msg_11"]


@pytest.mark.asyncio
async def test_a_guess_reads_the_view_and_grows_when_short() -> None:
    store = CountingListStore()
    await store.append(KEY, [make_item(n) for n in range(500)])
    await store.append(KEY, [marker("cmp_1", 0, keep_from="msg_400"), make_item("after")])
    view = await load_view(store, KEY, limit=None, head=None, guess=3)
    assert ids(view.items) == [*(f"msg_{n}" for n in range(400, 500)), "msg_after"]
    assert view.plain_ids == {f"msg_{n}" for n in range(400, 500)} | {"msg_after"}  # a marker alone splits nothing
    # guess + 16, four times more until msg_400 is read (each widened by load's WINDOW_SLACK)
    assert store.reads == [19 + WINDOW_SLACK, 76 + WINDOW_SLACK, 304 + WINDOW_SLACK]
    store.reads.clear()
    assert ids((await load_view(store, KEY, limit=None, head=None, guess=view.span)).items) == ids(view.items)
    assert len(store.reads) == 1


@pytest.mark.asyncio
async def test_older_markers_inside_a_kept_run_are_left_out() -> None:
    store = ListStore()
    await store.append(
        KEY,
        [
            make_item(0),
            make_item(1),
            marker("cmp_1", 0, keep_from="msg_1"),
            make_item(2),
            marker("cmp_2", 0, keep_from="msg_1"),
            make_item(3),
        ],
    )
    view = await load_view(store, KEY, limit=None, head=None, guess=None)
    assert ids(view.items) == ["msg_1", "msg_2", "msg_3"]


@pytest.mark.asyncio
async def test_a_lost_keep_from_keeps_what_the_record_holds() -> None:
    store = ListStore()
    await store.append(KEY, [make_item(0), marker("cmp_1", 1, keep_from="gone"), make_item("copy"), make_item(1)])
    view = await load_view(store, KEY, limit=None, head=None, guess=None)
    assert ids(view.items) == ["msg_copy", "msg_1"]


@pytest.mark.asyncio
async def test_a_chain_without_records_is_read_once_whole() -> None:
    store = CountingListStore()
    await store.append(KEY, [make_item(n) for n in range(50)])
    view = await load_view(store, KEY, limit=None, head=None, guess=None)
    assert len(view.items) == 50 and not view.compacted and store.reads == [None]


def test_a_record_copies_what_is_not_a_stored_run_and_points_at_the_rest() -> None:
    loaded = to_messages(to_items([Message("user", [f"m{n}"], message_id=f"m{n}") for n in range(5)]))
    summary = Message("assistant", ["SUMMARY"], message_id="summary_9")
    compacted = [summary, *loaded[3:]]
    kept = kept_run(loaded, compacted, frozenset({"m3", "m4"}))
    assert kept == 2
    assert kept_run(loaded, compacted, frozenset({"m4"})) == 1  # m3 is not in the stored run
    record = compaction_record(compacted, kept, "af_history")
    assert record[0]["type"] == MARKER_TYPE and record[0]["items"] == 1 and record[0]["keep_from"] == "m3"
    assert record[1]["id"] == f"{record[0]['id']}/summary_9"
    assert [m.message_id for m in to_messages(record[1:])] == ["summary_9"]  # the message keeps its id
    everything = compaction_record(compacted, 0, "af_history")
    assert "keep_from" not in everything[0] and everything[0]["items"] == 3


def test_the_run_context_attribution_is_not_stored() -> None:
    message = Message(
        "assistant", ["kept"], message_id="k", additional_properties={"_attribution": {"source_id": "af_history"}}
    )
    (_, copy) = compaction_record([message], 0, "af_history")
    assert "additional_properties" not in copy["agent_framework"]["message"]
