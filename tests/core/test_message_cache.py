"""The provider's message cache: converting a history in pieces gives what one conversion gives; sealed messages."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from agent_framework import Content, Message

from agent_framework_history import SessionKey
from agent_framework_history._message_cache import HEADS_PER_SESSION, MessageCache, extend
from agent_framework_history._sealed import SealedMessage
from agent_framework_history.conversion import to_items, to_messages

from .test_conversion_items import FIXTURES


def _history() -> list[dict[str, Any]]:
    """Items whose reading depends on what came before: multi-item messages, an approval and its response."""
    messages = [
        Message("user", ["Hello", "world"], message_id="msg_a", author_name="ann"),
        Message(
            "assistant",
            [
                Content.from_text_reasoning(id="rs_1", text="think", protected_data="enc"),
                Content.from_text("calling"),
                Content.from_function_call("call_1", "get_weather", arguments={"city": "Paris"}),
            ],
            message_id="msg_b",
            additional_properties={"note": {"nested": [1, 2]}},
        ),
        Message("tool", [Content.from_function_result("call_1", result="18C")], message_id="msg_c"),
        Message("assistant", ["It is 18C", "in Paris"], message_id="msg_d"),
    ]
    items = to_items(messages)
    foreign = [
        FIXTURES["mcp_approval_request"],
        {"type": "weird_future_item", "id": "x_1"},
        FIXTURES["mcp_approval_response"],
    ]
    return [*items[:5], *foreign, *items[5:]]


def _dicts(messages: list[Message]) -> list[dict[str, Any]]:
    return [message.to_dict() for message in messages]


def test_every_split_of_a_history_reads_as_the_whole() -> None:
    items = _history()
    whole = _dicts(to_messages(items))
    assert len(items) >= 9 and any(len(message["contents"]) > 1 for message in whole)
    for cut in range(len(items) + 1):
        assert _dicts(extend(extend(None, items[:cut]), items[cut:]).messages) == whole, cut
    pieces = None
    for item in items:  # one item at a time
        pieces = extend(pieces, [item])
    assert pieces is not None and _dicts(pieces.messages) == whole


def test_an_approval_response_read_later_finds_its_request() -> None:
    items = _history()
    at = next(n for n, item in enumerate(items) if item["type"] == "mcp_approval_response")
    later = extend(extend(None, items[:at]), items[at:])
    response = next(c for m in later.messages for c in m.contents if c.type == "function_approval_response")
    assert response.function_call is not None and response.function_call.name == "delete"


def test_extending_leaves_the_earlier_entry_unchanged() -> None:
    items = _history()
    first = extend(None, items[:2])  # msg_a, and the reasoning item of msg_b
    before = _dicts(first.messages)
    second = extend(first, items[2:])  # msg_b's text and function call continue it
    assert _dicts(first.messages) == before
    assert second.messages[1] is not first.messages[1]
    assert [c.type for c in first.messages[1].contents] == ["text_reasoning"]
    assert [c.type for c in second.messages[1].contents] == ["text_reasoning", "text", "function_call"]


def test_cached_messages_refuse_every_change() -> None:
    [message] = extend(None, _history()[1:4]).messages
    assert isinstance(message, SealedMessage) and isinstance(message, Message)
    content = message.contents[-1]
    assert content.type == "function_call"
    attempts = [
        lambda: setattr(message, "role", "user"),
        lambda: message.contents.append(Content.from_text("x")),
        lambda: message.contents.__setitem__(0, Content.from_text("x")),
        lambda: message.contents.clear(),
        lambda: message.additional_properties.__setitem__("k", 1),
        lambda: message.additional_properties["note"]["nested"].append(3),
        lambda: setattr(content, "name", "other"),
        lambda: content.arguments.__setitem__("city", "Rome"),  # type: ignore[union-attr]
        lambda: delattr(message, "author_name"),
    ]
    for attempt in attempts:
        with pytest.raises(TypeError, match="read-only"):
            attempt()
    assert message.to_dict()["additional_properties"] == {"note": {"nested": [1, 2]}}
    assert content.arguments == {"city": "Paris"}


def test_copies_of_cached_messages_are_plain_and_changeable() -> None:
    entry = extend(None, _history())
    message = entry.messages[1]
    shallow = copy.copy(message)
    assert type(shallow) is Message
    shallow.contents.append(Content.from_text("more"))
    shallow.additional_properties["k"] = 1
    shallow.role = "user"
    deep = copy.deepcopy(message)
    assert type(deep) is Message and all(type(c) is Content for c in deep.contents)
    deep.contents[-1].name = "renamed"
    deep.additional_properties["note"]["nested"].append(3)
    restored = pickle.loads(pickle.dumps(message))
    assert type(restored) is Message and restored.to_dict() == message.to_dict()
    plain_content = copy.copy(message.contents[-1])
    plain_content.name = "renamed"
    assert _dicts(entry.messages) == _dicts(to_messages(_history()))
    assert Message.from_dict(message.to_dict()).to_dict() == message.to_dict()


def test_the_cache_keeps_at_most_its_budget_least_recently_used_first() -> None:
    cache = MessageCache(budget=10)
    keys = [SessionKey(f"s{n}", user="u") for n in range(4)]
    entry = extend(None, to_items([Message("user", [f"m{n}"]) for n in range(4)]))
    for key in keys[:2]:
        cache._put(key, "turn_a", entry)  # pyright: ignore[reportPrivateUsage]
    assert (len(cache), cache.held) == (2, 8)
    assert cache._find(keys[0], "turn_a") is not None  # pyright: ignore[reportPrivateUsage]  (now the most recent)
    cache._put(keys[2], "turn_a", entry)  # pyright: ignore[reportPrivateUsage]
    assert (len(cache), cache.held) == (2, 8)
    assert cache._find(keys[1], "turn_a") is None  # pyright: ignore[reportPrivateUsage]  (evicted)
    assert cache._find(keys[0], None) is not None  # pyright: ignore[reportPrivateUsage]  (the session's latest)
    big = extend(None, to_items([Message("user", [f"m{n}"]) for n in range(11)]))
    cache._put(keys[3], "turn_a", big)  # pyright: ignore[reportPrivateUsage]  (larger than the budget: not kept)
    assert cache._find(keys[3], "turn_a") is None and cache.held == 8  # pyright: ignore[reportPrivateUsage]


def test_a_session_counts_as_its_longest_entry_and_keeps_a_few_heads() -> None:
    cache = MessageCache(budget=100)
    key = SessionKey("s")
    entry = None
    for n in range(HEADS_PER_SESSION + 2):
        entry = extend(entry, to_items([Message("user", [f"m{n}"])]))
        cache._put(key, f"turn_{n}", entry)  # pyright: ignore[reportPrivateUsage]
    assert len(cache) == HEADS_PER_SESSION
    assert cache.held == HEADS_PER_SESSION + 2  # the longest entry, not the sum of the shared prefixes
    assert cache._find(key, "turn_0")[0] == f"turn_{HEADS_PER_SESSION + 1}"  # type: ignore[index]  # pyright: ignore[reportPrivateUsage, reportOptionalSubscript]  (the oldest went first: the latest answers)
    found = cache._find(key, "turn_2")  # pyright: ignore[reportPrivateUsage]
    assert found is not None and len(found[1].messages) == 3
    cache._put(key, "turn_new", found[1])  # pyright: ignore[reportPrivateUsage]  (a fork of turn_2)
    assert (key, "turn_2") in cache._entries  # pyright: ignore[reportPrivateUsage]  (used: kept over turn_3)
    assert (key, "turn_3") not in cache._entries  # pyright: ignore[reportPrivateUsage]
    cache._drop((key, "turn_new"))  # pyright: ignore[reportPrivateUsage]
    cache._drop((key, f"turn_{HEADS_PER_SESSION + 1}"))  # pyright: ignore[reportPrivateUsage]
    assert cache.held == HEADS_PER_SESSION + 1
