"""What ``to_items`` writes, item by item: the extension records only what the natural fields do not say.

The round-trip tests show nothing is lost; these pin the written form itself (roles, part types, which
message header each item carries, and when the extension holds ``contents``), which a reader that is not
this library sees.
"""

from __future__ import annotations

from agent_framework import Content, Message

from agent_framework_history.conversion import EXTENSION_KEY, to_items, to_messages


def test_a_plain_text_message_is_exact_without_contents() -> None:
    assert to_items([Message("user", ["hi", "there"], message_id="m1")]) == [
        {
            "type": "message",
            "id": "m1",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "hi"}, {"type": "input_text", "text": "there"}],
            EXTENSION_KEY: {"message": {"role": "user", "message_id": "m1"}, "index": 0},
        }
    ]


def test_only_the_first_item_of_a_message_carries_its_whole_header() -> None:
    call = Content.from_function_call(call_id="c1", name="f", arguments='{"a":1}')
    message = Message("assistant", ["hi", call], message_id="m2", author_name="bob", additional_properties={"k": 1})
    assert to_items([message]) == [
        {
            "type": "message",
            "id": "m2",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "hi"}],  # the assistant's text is output_text
            EXTENSION_KEY: {
                "message": {
                    "role": "assistant",
                    "message_id": "m2",
                    "author_name": "bob",
                    "additional_properties": {"k": 1},
                },
                "index": 0,
            },
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "f",
            "arguments": '{"a":1}',
            "id": "m2.1",
            EXTENSION_KEY: {"message": {"role": "assistant", "message_id": "m2"}, "index": 1},
        },
    ]


def test_a_message_item_names_its_role_or_unknown() -> None:
    items = to_items([Message(role, ["x"], message_id=role) for role in ("user", "assistant", "system", "tool", "bot")])
    assert [item["role"] for item in items] == ["user", "assistant", "system", "tool", "unknown"]
    # The role the message had is kept in the extension, so it reads back whatever the item says.
    assert [item[EXTENSION_KEY]["message"]["role"] for item in items] == ["user", "assistant", "system", "tool", "bot"]
    assert [m.role for m in to_messages(items)] == ["user", "assistant", "system", "tool", "bot"]


def test_only_an_inexact_content_gets_an_entry_and_its_slot() -> None:
    message = Message("user", ["a", Content.from_text("b", additional_properties={"k": 1})], message_id="m6")
    (item,) = to_items([message])
    assert item["content"] == [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]
    assert item[EXTENSION_KEY]["contents"] == [
        {"type": "text", "slot": 0},
        {"type": "text", "slot": 1, "fields": {"additional_properties": {"k": 1}}},
    ]


def test_a_content_with_no_natural_place_keeps_its_fields_without_its_type() -> None:
    message = Message("assistant", [Content.from_error(message="boom", error_code="E1")], message_id="m5")
    (item,) = to_items([message])
    assert item["content"] == []
    assert item[EXTENSION_KEY]["contents"] == [{"type": "error", "fields": {"message": "boom", "error_code": "E1"}}]
    assert to_messages([item])[0].to_dict() == message.to_dict()


def test_a_message_item_after_an_inexact_one_is_exact_again() -> None:
    error = Content.from_error(message="boom")
    call = Content.from_function_call(call_id="c1", name="f", arguments="{}")
    items = to_items([Message("assistant", [error, call, "after"], message_id="m7")])
    assert [item["type"] for item in items] == ["message", "function_call", "message"]
    assert "contents" in items[0][EXTENSION_KEY]
    assert "contents" not in items[1][EXTENSION_KEY]  # a function call's fields say it all
    assert "contents" not in items[2][EXTENSION_KEY]


def test_a_field_read_from_the_item_id_is_recorded_so_a_new_id_does_not_change_it() -> None:
    call = Content.from_mcp_server_tool_call(call_id="mcp_1", tool_name="t", server_name="srv", arguments='{"q":1}')
    message = Message("assistant", [call], message_id="m8")
    (item,) = to_items([message])
    assert (item["type"], item["id"], item["name"], item["server_label"]) == ("mcp_call", "m8", "t", "srv")
    # Read naturally the call id would be the item id: only it is recorded, against the natural slot.
    assert item[EXTENSION_KEY]["contents"] == [
        {"type": "mcp_server_tool_call", "slot": 0, "fields": {"call_id": "mcp_1"}}
    ]
    item["id"] = "stamped_by_a_store"
    assert to_messages([item])[0].to_dict() == message.to_dict()
