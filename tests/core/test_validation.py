"""The one validator every backend relies on: check_items, clone_json, partition filters, limits, loads_item."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_framework_history import ALL, SessionKey
from agent_framework_history._json import MAX_DEPTH, MAX_INT, MIN_INT, loads_json
from agent_framework_history._keys import check_partition_value
from agent_framework_history._nonfinite import decode_items
from agent_framework_history.backend import check_items, check_limit, clone_json, loads_item

from .conftest import ListStore


def nested(depth: int) -> dict[str, Any]:
    """An object nesting ``depth`` levels of objects (itself being level 1)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


# -- check_partition_value ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", 5, b"alice", ["alice"], "a\x00b", "a\ud800"])
def test_partition_filter_rejects_what_no_key_can_hold(value: object) -> None:
    with pytest.raises(ValueError, match=r"SessionKey\.user"):
        check_partition_value("user", value)


@pytest.mark.parametrize("value", [None, ALL, "alice", "\U0001f600"])
def test_partition_filter_accepts_keys_none_and_all(value: object) -> None:
    check_partition_value("chat", value)


@pytest.mark.asyncio
@pytest.mark.parametrize(("field", "value"), [("user", ""), ("chat", ""), ("user", 3), ("chat", b"c")])
async def test_list_sessions_refuses_an_empty_or_non_string_filter(field: str, value: object) -> None:
    store = ListStore()
    await store.append(SessionKey("s1", user="alice", chat="c"), [{"type": "message", "id": "m1"}])
    with pytest.raises(ValueError, match=rf"SessionKey\.{field} must"):
        async for _ in store.list_sessions(**{field: value}):  # type: ignore[arg-type]
            pass
    assert [k async for k in store.list_sessions(user="alice", chat="c")] == [SessionKey("s1", "alice", "c")]


# -- check_items / clone_json -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "where", "what"),
    [
        ({"a": [1, float("nan")]}, "item.a[1]", "JSON cannot store"),
        ({"a": float("inf")}, "item.a", "JSON cannot store"),
        ({"a": {"b": -float("inf")}}, "item.a.b", "JSON cannot store"),
        ({"n": MAX_INT + 1}, "item.n", "outside the range"),
        ({"n": MIN_INT - 1}, "item.n", "outside the range"),
        ({"n": -(10**5000)}, "item.n", "over 4000 digits"),
        ({"t": "ok \udc00"}, "item.t", "lone surrogate"),
        ({"odd key": {"\ud83d": 1}}, "item['odd key']['\\ud83d']", "lone surrogate"),
        ({"b": b"bytes"}, "item.b", "JSON values only"),
        ({1: "x"}, "item", "non-string key"),
    ],
)
def test_clone_json_names_the_path_and_the_problem(value: Any, where: str, what: str) -> None:
    with pytest.raises(ValueError) as caught:
        clone_json(value)
    message = str(caught.value)
    assert message.startswith(where + " "), message
    assert what in message
    message.encode("utf-8")  # the message itself is printable: a surrogate shows escaped


def test_clone_json_copies_and_turns_tuples_into_lists() -> None:
    value = {"a": (1, 2.5, None, True), "b": {"c": ["x"]}, "n": MIN_INT, "m": MAX_INT}
    copied = clone_json(value)
    assert copied == {"a": [1, 2.5, None, True], "b": {"c": ["x"]}, "n": MIN_INT, "m": MAX_INT}
    copied["b"]["c"].append("y")
    assert value["b"]["c"] == ["x"]


def test_nesting_is_allowed_up_to_the_limit_and_refused_beyond() -> None:
    assert clone_json(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    with pytest.raises(ValueError, match=rf"nested more than {MAX_DEPTH} levels"):
        clone_json(nested(MAX_DEPTH + 1))
    deep_list: Any = []
    for _ in range(5000):  # far beyond Python's recursion limit: still a ValueError, not a RecursionError
        deep_list = [deep_list]
    with pytest.raises(ValueError, match="nested more than"):
        clone_json(deep_list)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "message", "id": "a\x00b"}, r"items\[1\]\.id .*NUL"),
        (
            {"type": "message", "id": "m", "score": [float("nan")], "af_nonfinite": [["score"]]},
            r"items\[1\]\.af_nonfinite .*leads to \[",
        ),
        ({"type": "message", "id": "\ud800"}, r"items\[1\]\.id .*lone surrogate"),
    ],
)
def test_check_items_names_the_item_index(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_items([{"type": "message", "id": "fine"}, item])


def test_check_items_stores_nan_and_infinity_as_listed_words() -> None:
    item = {"type": "message", "id": "m", "a": [1, float("nan"), {"b": -float("inf")}], "c": float("inf"), "d": "NaN"}
    (stored,) = check_items([item])
    assert stored == {
        "type": "message",
        "id": "m",
        "a": [1, "NaN", {"b": "-Infinity"}],
        "c": "Infinity",
        "d": "NaN",
        "af_nonfinite": [["a", 1], ["a", 2, "b"], ["c"]],
    }
    assert item["c"] == float("inf")  # the caller's item is untouched
    json.dumps(stored, allow_nan=False)
    (decoded,) = decode_items([stored])
    assert json.dumps(decoded) == json.dumps(item)
    assert "af_nonfinite" in stored  # decoding copies: the stored form is unchanged


def test_nan_inside_an_item_nested_too_deeply_is_still_refused_for_the_depth() -> None:
    value: Any = float("nan")
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(ValueError, match="nested more than"):
        check_items([{"type": "message", "id": "m", "v": value}])


def test_nul_inside_text_is_allowed_but_not_in_ids() -> None:
    (item,) = check_items([{"type": "message", "id": "m", "text": "a\x00b", "k\x00": 1}])
    assert item["text"] == "a\x00b"


# -- check_limit ---------------------------------------------------------------------------


def test_a_limit_beyond_any_count_means_everything() -> None:
    assert check_limit(MAX_INT) == MAX_INT
    assert check_limit(MAX_INT + 1) is None
    assert check_limit(10**30) is None
    assert check_limit(0) == 0
    with pytest.raises(ValueError, match="limit"):
        check_limit(-1)


@pytest.mark.asyncio
async def test_load_with_a_huge_limit_returns_everything() -> None:
    store = ListStore()
    key = SessionKey("s1")
    items = [{"type": "message", "id": f"m{n}"} for n in range(3)]
    await store.append(key, items)
    assert await store.load(key, limit=99999999999999999999) == items


# -- loads_item ------------------------------------------------------------------------------


def test_loads_item_turns_too_deep_json_into_a_value_error() -> None:
    text = '{"a":' * 100_000 + "1" + "}" * 100_000
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_item(text)
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_json("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_item_refuses_non_json_numbers(constant: str) -> None:
    with pytest.raises(ValueError, match=f"{constant} is not a JSON value"):
        loads_item(f'{{"type":"message","id":"m","x":{constant}}}')


def test_loads_item_still_reads_items() -> None:
    item = {"type": "message", "id": "m", "x": [1, 2.5, "\U0001f600", None]}
    assert loads_item(json.dumps(item)) == item
    with pytest.raises(ValueError, match="expected a JSON object"):
        loads_item("[1]")


def test_loads_items_parses_many_and_names_the_first_bad_text() -> None:
    from agent_framework_history._json import loads_items

    texts = ['{"type":"message","id":"a"}', ' {"type":"message","id":"b"} ']
    assert loads_items(texts) == [{"type": "message", "id": "a"}, {"type": "message", "id": "b"}]
    for bad, why in (
        ('{"a":1}{"b":2}', "Extra data"),
        ("[1]", "JSON object"),
        ('{"a":NaN}', "NaN"),
        (b'{"a":1}', "found bytes"),
        (7, "found int"),
        ("", "Expecting value"),
    ):
        with pytest.raises(ValueError, match=f"text 1: .*{why}"):
            loads_items(['{"ok":true}', bad])
