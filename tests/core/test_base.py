"""HistoryStoreBase: what it checks before a backend's ``_do_*`` method runs, and what it passes on."""

from __future__ import annotations

from typing import Any

import pytest

from agent_framework_history import AppendResult, ChainTail, Item, SessionKey, StoreClosedError
from agent_framework_history._base import WINDOW_SLACK
from agent_framework_history.backend import check_items, check_key, check_limit

from .conftest import ListStore


class RecordingStore(ListStore):
    """Records the arguments the base class hands to the backend."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        self.calls.append(("append", head))
        await super()._do_append(key, items, head)
        return AppendResult(len(items), head="next")

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        self.calls.append(("load", (limit, head)))
        return await super()._do_load(key, limit, head)


@pytest.mark.asyncio
async def test_the_chain_head_reaches_the_backend_and_an_empty_append_keeps_it() -> None:
    store = RecordingStore()
    key = SessionKey("s1")
    assert await store.append(key, [{"type": "message", "id": "m1"}], head="h1") == AppendResult(1, head="next")
    assert await store.append(key, [], head="h2") == AppendResult(stored=0, head="h2")
    await store.load(key, limit=5, head="h3")
    assert await store.load(key, limit=0, head="h4") == []  # never reaches the backend
    assert store.calls == [("append", "h1"), ("load", (5 + WINDOW_SLACK, "h3"))]  # a little more, for the window


@pytest.mark.asyncio
async def test_load_after_falls_back_to_the_whole_chain_and_says_so() -> None:
    store = RecordingStore()
    key = SessionKey("s1")
    await store.append(key, [{"type": "message", "id": "m1"}, {"type": "message", "id": "m2"}])
    tail = await store.load_after(key, "h1", head="h2")
    assert tail == ChainTail(items=await store.load(key), head=None, continues=False)
    assert [item["id"] for item in tail.items] == ["m1", "m2"]
    assert store.calls[1] == ("load", (None, "h2"))  # one plain load of the chain, whole
    with pytest.raises(ValueError, match="head"):
        await store.load_after(key, "")


@pytest.mark.asyncio
async def test_the_provider_converts_everything_on_a_store_without_load_after() -> None:
    from agent_framework import Message

    from agent_framework_history import HistoryStoreProvider

    store = ListStore()
    provider = HistoryStoreProvider(store)
    await provider.save_messages("s", [Message("user", ["hi"])])
    for _ in range(2):
        [loaded] = await provider.get_messages("s")
        assert type(loaded) is Message and loaded.text == "hi"
        loaded.contents.clear()  # a plain message of its own each time


@pytest.mark.asyncio
@pytest.mark.parametrize("operation", ["append", "load", "load_after", "delete", "list_sessions", "__aenter__"])
async def test_use_after_close_names_the_store_and_the_operation(operation: str) -> None:
    store = ListStore()
    assert store.closed is False
    await store.aclose()
    assert store.closed is True
    key = SessionKey("s1")
    calls = {
        "append": lambda: store.append(key, [{"type": "message", "id": "m1"}]),
        "load": lambda: store.load(key),
        "load_after": lambda: store.load_after(key, None),
        "delete": lambda: store.delete(key),
        "list_sessions": lambda: store.list_sessions().__anext__(),
        "__aenter__": lambda: store.__aenter__(),
    }
    with pytest.raises(StoreClosedError) as caught:
        await calls[operation]()
    assert str(caught.value) == (
        f"ListStore.{operation}() was called after aclose(); open a new store with open_store()."
    )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("abc", "items must be a sequence of item dicts, got str."),
        ({"type": "message", "id": "m"}, "items must be a sequence of item dicts, got dict."),
        (5, "items must be a sequence of item dicts, got int."),
        ([["type", "id"]], "items[0] must be a dict, got list."),
        ([{"type": 5, "id": "m"}], "items[0] needs a non-empty string 'type', got 5."),
        ([{"type": "", "id": "m"}], "items[0] needs a non-empty string 'type', got ''."),
        (
            [{"type": "message", "id": 7}],
            "items[0] (type 'message') needs a non-empty string 'id', got 7; "
            "agent_framework_history.conversion.to_items gives every item one.",
        ),
        (
            [{"type": "message", "id": "a\x00b"}],
            "items[0].id 'a\\x00b' contains a NUL character; ids are kept in text columns, which cannot hold NUL. "
            "Remove it from the id.",
        ),
    ],
)
def test_check_items_messages(items: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_items(items)
    assert str(caught.value) == message


def test_check_key_and_check_limit_messages() -> None:
    with pytest.raises(ValueError) as caught:
        check_key(("s1", None))
    assert str(caught.value) == (
        "Expected a SessionKey, got tuple ('s1', None); build one with SessionKey(session_id, user=..., chat=...)."
    )
    with pytest.raises(ValueError) as caught:
        check_limit("3")
    assert str(caught.value) == "limit must be None or a non-negative int, got str '3'."
    with pytest.raises(ValueError) as caught:
        check_limit(True)
    assert str(caught.value) == "limit must be None or a non-negative int, got bool True."
