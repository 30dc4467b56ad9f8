"""Named regressions: the defects of the original design (agent-framework PR #5637) must not come back."""

from __future__ import annotations

from typing import Any

from agent_framework import Content, Message

from agent_framework_history.backend import dumps_item, loads_item
from agent_framework_history.conversion import EXTENSION_KEY, to_items, to_messages


def save_and_load(*turns: list[Message]) -> list[Message]:
    """Each turn converted on its own (as the adapter saves them), stored as JSON, then loaded together."""
    stored: list[dict[str, Any]] = []
    for turn in turns:
        stored.extend(loads_item(dumps_item(item)) for item in to_items(turn))
    return to_messages(stored)


def test_regression_approval_response_keeps_pointing_at_its_request() -> None:
    call = Content.from_function_call("call_7", "delete_file", arguments={"path": "a.txt"}, id="fc_7")
    request = Content.from_function_approval_request("fc_7", call)
    response = request.to_function_approval_response(approved=True)
    turn_1 = [Message("user", ["delete a.txt"], message_id="m1"), Message("assistant", [request], message_id="m2")]
    turn_2 = [Message("user", [response], message_id="m3")]

    stored = [item for turn in (turn_1, turn_2) for item in to_items(turn)]
    response_item = next(item for item in stored if item["type"] == "mcp_approval_response")
    assert response_item["approval_request_id"] == "fc_7"  # the request's id, not the record's own id
    assert response_item["id"] != "fc_7"

    loaded = save_and_load(turn_1, turn_2)
    loaded_request = loaded[1].contents[0]
    loaded_response = loaded[2].contents[0]
    assert loaded_response.type == "function_approval_response"
    assert loaded_response.id == loaded_request.id == "fc_7"
    assert loaded_response.approved is True
    assert loaded_response.function_call == call
    assert [m.to_dict() for m in loaded] == [m.to_dict() for m in turn_1 + turn_2]


def test_regression_approval_response_loads_without_its_request_in_the_window() -> None:
    call = Content.from_function_call("call_8", "f", id="fc_8")
    response = Content.from_function_approval_response(False, "fc_8", call)
    (loaded,) = save_and_load([Message("user", [response], message_id="m9")])
    assert loaded.contents[0].id == "fc_8"
    assert loaded.contents[0].function_call == call


def test_regression_text_fragments_are_never_joined() -> None:
    message = Message("assistant", ["Hello", "world", "", " !"], message_id="m1")
    (item,) = to_items([message])
    assert [part["text"] for part in item["content"]] == ["Hello", "world", "", " !"]
    (loaded,) = save_and_load([message])
    assert [c.text for c in loaded.contents] == ["Hello", "world", "", " !"]


def test_regression_tool_calls_and_results_keep_their_item_types_and_roles() -> None:
    turn = [
        Message(
            "assistant", [Content.from_function_call("c1", "get_weather", arguments='{"city": "Oslo"}')], message_id="a"
        ),
        Message("tool", [Content.from_function_result("c1", result="cold")], message_id="t"),
    ]
    items = to_items(turn)
    assert [(item["type"], item.get("call_id")) for item in items] == [
        ("function_call", "c1"),
        ("function_call_output", "c1"),
    ]
    assert items[0]["arguments"] == '{"city": "Oslo"}' and items[1]["output"] == "cold"
    loaded = save_and_load(turn)
    assert [(m.role, m.contents[0].type) for m in loaded] == [
        ("assistant", "function_call"),
        ("tool", "function_result"),
    ]


def test_regression_reasoning_survives_the_write_path() -> None:
    reasoning = Content.from_text_reasoning(id="rs_1", text="thinking", protected_data="enc")
    message = Message("assistant", [reasoning, Content.from_text("answer")], message_id="m")
    items = to_items([message])
    assert [item["type"] for item in items] == ["reasoning", "message"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "thinking"}]
    assert items[0]["encrypted_content"] == "enc"
    assert save_and_load([message])[0].to_dict() == message.to_dict()


def test_regression_unknown_item_type_does_not_fail_the_load() -> None:
    good = to_items([Message("user", ["hi"], message_id="u")])
    loaded = to_messages([{"type": "something_new", "id": "x"}, *good])
    assert [m.text for m in loaded] == ["hi"]


def test_consecutive_messages_without_ids_stay_apart() -> None:
    batch = [Message("user", ["same"]), Message("user", ["same"]), Message("assistant", [])]
    items = to_items(batch)
    assert len({item["id"] for item in items}) == 3
    loaded = save_and_load(batch)
    assert [m.to_dict() for m in loaded] == [m.to_dict() for m in batch]
    assert [m.message_id for m in loaded] == [None, None, None]


def test_message_split_over_several_items_regroups() -> None:
    message = Message(
        "assistant",
        [
            Content.from_text("before"),
            Content.from_function_call("c1", "f", arguments="{}"),
            Content.from_text("between"),
            Content.from_usage({"input_token_count": 3}),
            Content.from_function_call("c2", "g", arguments="{}"),
        ],
        message_id="m1",
        author_name="bot",
        additional_properties={"k": [1, 2]},
    )
    items = to_items([message, Message("assistant", ["next"], message_id="m2")])
    assert [item["id"] for item in items] == ["m1", "m1.1", "m1.2", "m1.3", "m2"]
    assert [item[EXTENSION_KEY]["index"] for item in items] == [0, 1, 2, 3, 0]
    loaded = save_and_load([message, Message("assistant", ["next"], message_id="m2")])
    assert [m.to_dict() for m in loaded] == [
        message.to_dict(),
        Message("assistant", ["next"], message_id="m2").to_dict(),
    ]


def test_a_message_cut_by_a_load_window_still_loads() -> None:
    message = Message("assistant", [Content.from_function_call("c1", "f"), Content.from_text("done")], message_id="m1")
    tail = to_items([message])[1:]
    (loaded,) = to_messages(tail)
    assert (loaded.role, loaded.message_id, [c.text for c in loaded.contents]) == ("assistant", "m1", ["done"])


def test_empty_message_round_trips() -> None:
    message = Message("system", [], message_id=None, author_name="x")
    assert save_and_load([message])[0].to_dict() == message.to_dict()


def test_a_store_may_replace_item_ids() -> None:
    """Backends that need service-valid ids may stamp their own; what reads back does not change."""
    batch = [
        Message("assistant", [Content.from_text_reasoning(id="msg_r", text="t")], message_id="msg_r"),
        Message("assistant", [Content.from_text_reasoning(text="no id")], message_id="msg_s"),
        Message(
            "assistant", [Content.from_mcp_server_tool_call("msg_m", "tool", server_name="srv")], message_id="msg_m"
        ),
        Message("assistant", [Content.from_code_interpreter_tool_call()], message_id="msg_c"),
    ]
    items = to_items(batch)
    for number, item in enumerate(items):
        item["id"] = f"stamped_{number}"
    assert [m.to_dict() for m in to_messages(items)] == [m.to_dict() for m in batch]


def test_a_broken_extension_is_reported_and_the_rest_loads() -> None:
    from agent_framework_history.conversion import read_items

    good = to_items([Message("user", ["a"], message_id="a"), Message("user", ["b"], message_id="b")])
    bad_index = {**good[0], EXTENSION_KEY: {**good[0][EXTENSION_KEY], "index": "zero"}}
    bad_entry = {**good[0], "id": "c", EXTENSION_KEY: {**good[0][EXTENSION_KEY], "contents": [{"slot": 0}]}}
    result = read_items([bad_index, bad_entry, good[1]])
    assert [m.text for m in result.messages] == ["b"]
    assert [(s.index, s.type, s.malformed) for s in result.skipped] == [(0, "message", True), (1, "message", True)]
    assert "index" in result.skipped[0].reason and "type" in result.skipped[1].reason


def test_a_content_id_equal_to_the_writers_stand_in_survives_a_store_stamping_ids() -> None:
    # Found by hypothesis: the writer reads an item back with a stand-in id to learn which fields come from
    # the id; a content whose own id happened to be that stand-in lost it once the store gave a new id.
    for odd_id in ("\x00", "\x01"):
        call = Content.from_dict(
            {"type": "computer_tool_call", "call_id": "0", "actions": [{"type": "click", "x": 0}], "id": odd_id}
        )
        message = Message("assistant", [call], message_id="m")
        items = to_items([message])
        for number, item in enumerate(items):
            item["id"] = f"caitem_{number}"
        (back,) = to_messages(items)
        assert back.to_dict() == message.to_dict()
