"""The round trip ``to_messages(to_items(messages))`` is exact for every content type (property tests)."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from typing import Any, get_args

import pytest
from agent_framework import Content, Message
from agent_framework._types import ContentType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_framework_history.backend import dumps_item, loads_item
from agent_framework_history.conversion import EXTENSION_KEY, read_items, to_items, to_messages

CONTENT_TYPES: tuple[str, ...] = get_args(ContentType)

# region strategies

texts = st.text(max_size=20)
names = st.text(min_size=1, max_size=12)
maybe = st.none() | texts
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=3)
arguments = st.none() | json_objects | json_objects.map(json.dumps) | texts
# agent-framework's Content constructor validates the legacy key "server_label" (a string or None, and on a
# function call it implies hosted=True), so random property maps leave it out.
properties = st.none() | st.dictionaries(texts.filter(lambda key: key != "server_label"), json_values, max_size=3)
annotations = st.none() | st.lists(
    st.fixed_dictionaries({"type": st.just("citation"), "title": texts, "url": texts}), max_size=2
)
statuses = st.none() | st.sampled_from(["in_progress", "completed", "incomplete", "failed", "searching", "weird"])
media_types = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "text/plain", "audio/wav"])


@st.composite
def data_contents(draw: st.DrawFn) -> Content:
    media = draw(media_types)
    return Content.from_data(
        draw(st.binary(max_size=24)),
        media,
        name=draw(st.none() | names),
        file_id=draw(st.none() | names),
        additional_properties=draw(properties),
    )


@st.composite
def uri_contents(draw: st.DrawFn) -> Content:
    return Content.from_uri(
        "https://example.com/" + draw(st.text(alphabet="abcxyz/._-", max_size=12)),
        media_type=draw(st.none() | media_types),
        name=draw(st.none() | names),
        additional_properties=draw(properties),
    )


@st.composite
def hosted_files(draw: st.DrawFn) -> Content:
    return Content.from_hosted_file(draw(names), media_type=draw(st.none() | media_types), name=draw(st.none() | names))


@st.composite
def text_contents(draw: st.DrawFn) -> Content:
    refusal = draw(st.booleans())
    props = {"core": {"model_output_kind": "refusal"}, "model_output_kind": "refusal"} if refusal else draw(properties)
    return Content.from_text(draw(st.text(max_size=30)), annotations=draw(annotations), additional_properties=props)


@st.composite
def function_calls(draw: st.DrawFn) -> Content:
    return Content.from_function_call(
        draw(names),
        draw(names),
        arguments=draw(arguments),
        id=draw(st.none() | names),
        hosted=draw(st.none() | st.booleans()),
        server_name=draw(st.none() | names),
        informational_only=draw(st.booleans()),
        status=draw(statuses),
        exception=draw(st.none() | texts),
        additional_properties=draw(properties),
    )


@st.composite
def function_results(draw: st.DrawFn) -> Content:
    result = draw(st.none() | texts | json_objects | st.lists(text_contents(), max_size=2))
    return Content.from_function_result(
        draw(names), result=result, id=draw(st.none() | names), status=draw(statuses), exception=draw(st.none() | texts)
    )


@st.composite
def command_outputs(draw: st.DrawFn) -> Content:
    return Content.from_shell_command_output(
        stdout=draw(maybe),
        stderr=draw(maybe),
        exit_code=draw(st.none() | st.integers(-5, 300)),
        timed_out=draw(st.none() | st.booleans()),
    )


@st.composite
def screenshots(draw: st.DrawFn) -> Content:
    return draw(
        st.sampled_from(
            [
                Content.from_uri("data:image/png;base64,iVBORw0KGgo=", media_type="image/png"),
                Content.from_uri("https://example.com/s.png", media_type="image/png"),
                Content.from_hosted_file("file_1"),
            ]
        )
    )


safety_checks = st.lists(st.fixed_dictionaries({"id": names}, optional={"code": texts, "message": texts}), max_size=2)
actions = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["click", "type"]), "x": st.integers(0, 99)}), min_size=1, max_size=3
)


@st.composite
def contents_of(draw: st.DrawFn, kind: str) -> Content:
    """One content of ``kind`` with random fields, built the way applications build them."""
    props = draw(properties)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _build(draw, kind, props)


def _build(draw: st.DrawFn, kind: str, props: dict[str, Any] | None) -> Content:
    builders: dict[str, Callable[[], Content]] = {
        "text": lambda: draw(text_contents()),
        "text_reasoning": lambda: Content.from_text_reasoning(
            id=draw(st.none() | names),
            text=draw(maybe),
            protected_data=draw(maybe),
            status=draw(statuses),
            additional_properties=props,
        ),
        "data": lambda: draw(data_contents()),
        "uri": lambda: draw(uri_contents()),
        "error": lambda: Content.from_error(
            message=draw(maybe), error_code=draw(maybe), error_details=draw(maybe), additional_properties=props
        ),
        "function_call": lambda: draw(function_calls()),
        "function_result": lambda: draw(function_results()),
        "usage": lambda: Content.from_usage(
            draw(
                st.dictionaries(st.sampled_from(["input_token_count", "output_token_count", "x"]), st.integers(0, 9999))
            ),
            additional_properties=props,
        ),
        "hosted_file": lambda: draw(hosted_files()),
        "hosted_vector_store": lambda: Content.from_hosted_vector_store(draw(names), additional_properties=props),
        "code_interpreter_tool_call": lambda: Content.from_code_interpreter_tool_call(
            call_id=draw(st.none() | names),
            inputs=draw(st.none() | st.lists(text_contents(), max_size=2)),
            status=draw(statuses),
        ),
        "code_interpreter_tool_result": lambda: Content.from_code_interpreter_tool_result(
            call_id=draw(st.none() | names),
            outputs=draw(st.none() | st.lists(text_contents() | uri_contents(), max_size=2)),
        ),
        "image_generation_tool_call": lambda: Content.from_image_generation_tool_call(image_id=draw(st.none() | names)),
        "image_generation_tool_result": lambda: Content.from_image_generation_tool_result(
            image_id=draw(st.none() | names), outputs=draw(st.none() | data_contents())
        ),
        "mcp_server_tool_call": lambda: Content.from_mcp_server_tool_call(
            draw(names), draw(names), server_name=draw(st.none() | names), arguments=draw(arguments)
        ),
        "mcp_server_tool_result": lambda: Content.from_mcp_server_tool_result(
            draw(names | names.map(lambda s: "mcp_" + s)), output=draw(st.none() | texts | json_objects)
        ),
        "search_tool_call": lambda: Content.from_search_tool_call(
            draw(names),
            tool_name=draw(st.sampled_from(["web_search", "file_search", "bing"])),
            arguments=draw(
                st.none()
                | st.fixed_dictionaries({"query": texts})
                | st.fixed_dictionaries({"queries": st.lists(texts, max_size=2)})
            ),
            status=draw(statuses),
        ),
        "search_tool_result": lambda: Content.from_search_tool_result(
            draw(names), tool_name=draw(names), result=draw(st.none() | json_objects), status=draw(statuses)
        ),
        "shell_tool_call": lambda: Content.from_shell_tool_call(
            call_id=draw(st.none() | names),
            commands=draw(st.none() | st.lists(texts, max_size=3)),
            timeout_ms=draw(st.none() | st.integers(0, 10**6)),
            max_output_length=draw(st.none() | st.integers(0, 10**6)),
            status=draw(statuses),
        ),
        "shell_tool_result": lambda: Content.from_shell_tool_result(
            call_id=draw(st.none() | names),
            outputs=draw(st.none() | st.lists(command_outputs(), max_size=3)),
            max_output_length=draw(st.none() | st.integers(0, 10**6)),
        ),
        "shell_command_output": lambda: draw(command_outputs()),
        "computer_tool_call": lambda: Content.from_computer_tool_call(
            id=draw(names),
            call_id=draw(names),
            actions=draw(actions),
            status=draw(statuses),
            pending_safety_checks=draw(st.none() | safety_checks),
        ),
        "computer_tool_result": lambda: Content.from_computer_tool_result(
            call_id=draw(names),
            screenshot=draw(st.none() | screenshots()),
            id=draw(st.none() | names),
            status=draw(statuses),
            acknowledged_safety_checks=draw(st.none() | safety_checks),
        ),
        "function_approval_request": lambda: Content.from_function_approval_request(
            draw(names), draw(function_calls()), additional_properties=props
        ),
        "function_approval_response": lambda: Content.from_function_approval_response(
            draw(st.booleans()), draw(names), draw(function_calls()), additional_properties=props
        ),
        "oauth_consent_request": lambda: Content.from_oauth_consent_request(
            "https://login.example.com/" + draw(st.text(alphabet="abc", max_size=5)), additional_properties=props
        ),
    }
    return builders[kind]()


any_content = st.sampled_from(CONTENT_TYPES).flatmap(contents_of)
roles = st.sampled_from(["user", "assistant", "system", "tool", "developer"]) | names


@st.composite
def messages(draw: st.DrawFn, contents: st.SearchStrategy[Content] = any_content) -> Message:
    return Message(
        draw(roles),
        draw(st.lists(contents, max_size=4)),
        author_name=draw(st.none() | names),
        message_id=draw(st.none() | names.map(lambda s: "msg_" + s)),
        additional_properties=draw(properties),
    )


# endregion


def stored(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a store gives back: every item through compact JSON."""
    return [loads_item(dumps_item(item)) for item in items]


def as_dicts(batch: list[Message]) -> list[dict[str, Any]]:
    return [message.to_dict() for message in batch]


def roundtrip(batch: list[Message]) -> list[Message]:
    items = stored(to_items(batch))
    result = read_items(items)
    assert result.skipped == []
    return result.messages


def test_the_property_covers_all_26_content_types() -> None:
    assert len(CONTENT_TYPES) == 26


@pytest.mark.parametrize("kind", CONTENT_TYPES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_content_type_round_trips(kind: str, data: st.DataObject) -> None:
    batch = data.draw(st.lists(messages(contents_of(kind)), min_size=1, max_size=3))
    assert as_dicts(roundtrip(batch)) == as_dicts(batch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(messages(), max_size=5))
def test_any_mix_of_messages_round_trips(batch: list[Message]) -> None:
    assert as_dicts(roundtrip(batch)) == as_dicts(batch)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(messages(), max_size=4))
def test_items_are_valid_and_ids_stable_and_distinct(batch: list[Message]) -> None:
    first = to_items(batch)
    again = to_items(batch)
    assert first == again  # deterministic, ids included
    ids = [item["id"] for item in first]
    assert all(isinstance(i, str) and i for i in ids)
    assert all(isinstance(item["type"], str) and item["type"] for item in first)
    assert all(EXTENSION_KEY in item for item in first)
    # Ids are distinct unless two messages share a message id (that is how a replay is recognised).
    message_ids = [m.message_id for m in batch if m.message_id is not None]
    if len(set(message_ids)) == len(message_ids):
        assert len(set(ids)) == len(ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(messages(), min_size=1, max_size=4))
def test_round_trip_is_a_fixed_point(batch: list[Message]) -> None:
    items = stored(to_items(batch))
    assert stored(to_items(to_messages(items))) == items


def test_base64_data_survives_exactly() -> None:
    payload = bytes(range(256))
    message = Message("user", [Content.from_data(payload, "application/octet-stream", name="blob.bin")], message_id="m")
    (back,) = roundtrip([message])
    assert back.contents[0].uri == "data:application/octet-stream;base64," + base64.b64encode(payload).decode()
    assert back.to_dict() == message.to_dict()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=any_content)
def test_fast_paths_agree_with_agent_framework(content: Content) -> None:
    from agent_framework_history.conversion._contents import build_content, content_fields

    expected = content.to_dict()
    if not expected.get("additional_properties"):
        expected.pop("additional_properties", None)
    fields = content_fields(content)
    assert fields == expected
    assert build_content(dict(fields)).to_dict() == Content.from_dict(dict(fields)).to_dict()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(messages(), max_size=4))
def test_round_trip_survives_a_store_stamping_its_own_ids(batch: list[Message]) -> None:
    items = stored(to_items(batch))
    for number, item in enumerate(items):
        item["id"] = f"caitem_{number:04d}"
    assert as_dicts(to_messages(items)) == as_dicts(batch)
