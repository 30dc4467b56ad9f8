"""Items in the shapes the Responses SDK produces, for every ``OutputItemType``: what each becomes."""

from __future__ import annotations

import copy
import logging
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_framework_history.conversion import (
    CONVERTED_ITEM_TYPES,
    EXTENSION_KEY,
    OUTPUT_ITEM_TYPES,
    UNCONVERTED_KEY,
    read_items,
    to_items,
    to_messages,
)

from .test_conversion_roundtrip import messages

SCREENSHOT = {"type": "computer_screenshot", "image_url": "data:image/png;base64,iVBORw0KGgo="}
AGENT = {"type": "agent_reference", "name": "helper", "version": "1"}

#: One item per OutputItemType, with every required field (and a few optional ones) as the SDK writes them.
#: Foundry tool-call item families: (type prefix, whether the item carries a tool ``name``).
FOUNDRY_TOOLS = (
    ("a2a_preview", True),
    ("bing_grounding", False),
    ("sharepoint_grounding_preview", False),
    ("azure_ai_search", False),
    ("bing_custom_search_preview", False),
    ("openapi", True),
    ("browser_automation_preview", False),
    ("fabric_dataagent_preview", False),
    ("azure_function", True),
)

FIXTURES: dict[str, dict[str, Any]] = {
    "output_message": {
        "type": "output_message",
        "id": "msg_o1",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "Here", "annotations": [], "logprobs": []},
            {"type": "refusal", "refusal": "I can't do that"},
        ],
        "response_id": "caresp_1",
    },
    "file_search_call": {"type": "file_search_call", "id": "fs_1", "queries": ["q1", "q2"], "status": "completed"},
    "function_call": {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
        "status": "completed",
    },
    "function_call_output": {
        "type": "function_call_output",
        "id": "fco_1",
        "call_id": "call_1",
        "output": "sunny",
        "status": "completed",
    },
    "web_search_call": {
        "type": "web_search_call",
        "id": "ws_1",
        "action": {"type": "search", "query": "weather"},
        "status": "completed",
    },
    "computer_call": {
        "type": "computer_call",
        "id": "cu_1",
        "call_id": "call_c1",
        "actions": [{"type": "click", "button": "left", "x": 10, "y": 20}],
        "pending_safety_checks": [{"id": "sc_1", "code": "malicious", "message": "check"}],
        "status": "completed",
    },
    "computer_call_output": {
        "type": "computer_call_output",
        "id": "cuo_1",
        "call_id": "call_c1",
        "output": SCREENSHOT,
        "status": "completed",
    },
    "reasoning": {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "First"}, {"type": "summary_text", "text": "Second"}],
        "encrypted_content": "opaque",
        "status": "completed",
    },
    "program": {"type": "program", "id": "prg_1", "call_id": "call_p", "code": "print(1)", "fingerprint": "f0"},
    "program_output": {
        "type": "program_output",
        "id": "prgo_1",
        "call_id": "call_p",
        "result": "1",
        "status": "completed",
    },
    "tool_search_call": {
        "type": "tool_search_call",
        "id": "ts_1",
        "call_id": "call_t",
        "arguments": {"query": "files"},
        "execution": "server",
        "status": "completed",
    },
    "tool_search_output": {
        "type": "tool_search_output",
        "id": "tso_1",
        "call_id": "call_t",
        "execution": "server",
        "status": "completed",
        "tools": [{"type": "function", "name": "f", "parameters": {}}],
    },
    "additional_tools": {
        "type": "additional_tools",
        "id": "at_1",
        "role": "developer",
        "tools": [{"type": "function", "name": "g", "parameters": {}}],
    },
    "compaction": {"type": "compaction", "id": "cmp_1", "encrypted_content": "zzz"},
    "image_generation_call": {
        "type": "image_generation_call",
        "id": "ig_1",
        "result": "iVBORw0KGgo=",
        "status": "completed",
    },
    "code_interpreter_call": {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "status": "completed",
        "container_id": "cntr_1",
        "code": "print(2)",
        "outputs": [{"type": "logs", "logs": "2"}],
    },
    "local_shell_call": {
        "type": "local_shell_call",
        "id": "lsh_1",
        "call_id": "call_l",
        "action": {"type": "exec", "command": ["ls", "-l"], "env": {}, "timeout_ms": 1000},
        "status": "completed",
    },
    "local_shell_call_output": {
        "type": "local_shell_call_output",
        "id": "lsho_1",
        "output": "total 0",
        "status": "completed",
    },
    "shell_call": {
        "type": "shell_call",
        "id": "sh_1",
        "call_id": "call_s",
        "action": {"commands": ["echo hi"], "timeout_ms": 500, "max_output_length": 100},
        "environment": {"type": "local"},
        "status": "completed",
    },
    "shell_call_output": {
        "type": "shell_call_output",
        "id": "sho_1",
        "call_id": "call_s",
        "max_output_length": 100,
        "status": "completed",
        "output": [
            {"stdout": "hi\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}},
            {"stdout": "", "stderr": "", "outcome": {"type": "timeout"}},
        ],
    },
    "apply_patch_call": {
        "type": "apply_patch_call",
        "id": "ap_1",
        "call_id": "call_a",
        "operation": {"type": "create_file", "path": "a.txt", "diff": "+a"},
        "status": "completed",
    },
    "apply_patch_call_output": {
        "type": "apply_patch_call_output",
        "id": "apo_1",
        "call_id": "call_a",
        "status": "completed",
        "output": "done",
    },
    "mcp_call": {
        "type": "mcp_call",
        "id": "mcp_1",
        "name": "search",
        "server_label": "docs",
        "arguments": '{"q": "x"}',
        "output": "found",
        "status": "completed",
    },
    "mcp_list_tools": {
        "type": "mcp_list_tools",
        "id": "mcpl_1",
        "server_label": "docs",
        "tools": [{"name": "search", "input_schema": {}}],
    },
    "mcp_approval_request": {
        "type": "mcp_approval_request",
        "id": "mcpr_1",
        "name": "delete",
        "server_label": "docs",
        "arguments": "{}",
    },
    "mcp_approval_response": {
        "type": "mcp_approval_response",
        "id": "mcpa_1",
        "approval_request_id": "mcpr_1",
        "approve": True,
    },
    "custom_tool_call": {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": "call_x",
        "name": "grammar",
        "input": "a+b",
        "status": "completed",
    },
    "custom_tool_call_output": {
        "type": "custom_tool_call_output",
        "id": "ctco_1",
        "call_id": "mcp_42",
        "output": "tool says hi",
        "status": "completed",
    },
    "message": {
        "type": "message",
        "id": "msg_u1",
        "role": "user",
        "status": "completed",
        "content": [
            {"type": "input_text", "text": "Look at"},
            {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"},
            {"type": "input_file", "filename": "notes.txt", "file_data": "data:text/plain;base64,aGVsbG8="},
            {"type": "input_file", "file_id": "file_9", "filename": "report.pdf"},
        ],
    },
    "structured_outputs": {"type": "structured_outputs", "id": "so_1", "output": {"answer": 42}},
    "oauth_consent_request": {
        "type": "oauth_consent_request",
        "id": "oacr_1",
        "consent_link": "https://login.example.com/c",
        "server_label": "graph",
    },
    "memory_search_call": {"type": "memory_search_call", "id": "mem_1", "status": "completed", "results": []},
    "workflow_action": {
        "type": "workflow_action",
        "id": "wfa_1",
        "action_id": "a1",
        "kind": "invoke_agent",
        "status": "completed",
    },
    **{
        f"{name}_call": {
            "type": f"{name}_call",
            "id": f"{name}_1",
            "call_id": f"call_{name}",
            "arguments": "{}",
            "status": "completed",
            **({"name": "tool"} if named else {}),
        }
        for name, named in FOUNDRY_TOOLS
    },
    **{
        f"{name}_call_output": {
            "type": f"{name}_call_output",
            "id": f"{name}_o1",
            "call_id": f"call_{name}",
            "output": "ok",
            "status": "completed",
            **({"name": "tool"} if named else {}),
        }
        for name, named in FOUNDRY_TOOLS
    },
}

#: Required keys of every OutputItemType (from the SDK's TypedDicts), checked against the fixtures.
REQUIRED: dict[str, set[str]] = {
    "output_message": {"content", "role", "status"},
    "file_search_call": {"queries", "status"},
    "function_call": {"arguments", "call_id", "name"},
    "function_call_output": {"output"},
    "web_search_call": {"action", "status"},
    "computer_call": {"call_id", "pending_safety_checks", "status"},
    "computer_call_output": {"call_id", "output"},
    "reasoning": {"summary"},
    "program": {"call_id", "code", "fingerprint"},
    "program_output": {"call_id", "result", "status"},
    "tool_search_call": {"arguments", "call_id", "execution", "status"},
    "tool_search_output": {"call_id", "execution", "status", "tools"},
    "additional_tools": {"role", "tools"},
    "compaction": {"encrypted_content"},
    "image_generation_call": {"result", "status"},
    "code_interpreter_call": {"code", "container_id", "outputs", "status"},
    "local_shell_call": {"action", "call_id", "status"},
    "local_shell_call_output": {"output"},
    "shell_call": {"action", "call_id", "environment", "status"},
    "shell_call_output": {"call_id", "max_output_length", "output", "status"},
    "apply_patch_call": {"call_id", "operation", "status"},
    "apply_patch_call_output": {"call_id", "status"},
    "mcp_call": {"arguments", "name", "server_label"},
    "mcp_list_tools": {"server_label", "tools"},
    "mcp_approval_request": {"arguments", "name", "server_label"},
    "mcp_approval_response": {"approval_request_id", "approve"},
    "custom_tool_call": {"call_id", "input", "name", "status"},
    "custom_tool_call_output": {"call_id", "output", "status"},
    "message": {"content", "role", "status"},
    "structured_outputs": {"output"},
    "oauth_consent_request": {"consent_link", "server_label"},
    "memory_search_call": {"status"},
    "workflow_action": {"action_id", "kind", "status"},
    **{
        f"{name}_call": {"arguments", "call_id", "status", *(["name"] if named else [])}
        for name, named in FOUNDRY_TOOLS
    },
    **{f"{name}_call_output": {"call_id", "status", *(["name"] if named else [])} for name, named in FOUNDRY_TOOLS},
}

#: What each item becomes: (role, content types), or None when it is kept whole and left out.
EXPECTED: dict[str, tuple[str, list[str]] | None] = {
    "output_message": ("assistant", ["text", "text"]),
    "file_search_call": ("assistant", ["function_call"]),
    "function_call": ("assistant", ["function_call"]),
    "function_call_output": ("tool", ["function_result"]),
    "web_search_call": ("assistant", ["function_call"]),
    "computer_call": ("assistant", ["computer_tool_call"]),
    "computer_call_output": ("tool", ["computer_tool_result"]),
    "reasoning": ("assistant", ["text_reasoning", "text_reasoning"]),
    "image_generation_call": ("assistant", ["image_generation_tool_call"]),
    "code_interpreter_call": ("assistant", ["code_interpreter_tool_call"]),
    "local_shell_call": ("assistant", ["shell_tool_call"]),
    "local_shell_call_output": ("tool", ["shell_tool_result"]),
    "shell_call": ("assistant", ["shell_tool_call"]),
    "shell_call_output": ("tool", ["shell_tool_result"]),
    "apply_patch_call": ("assistant", ["function_call"]),
    "apply_patch_call_output": ("tool", ["function_result"]),
    "mcp_call": ("assistant", ["mcp_server_tool_call", "mcp_server_tool_result"]),
    "mcp_approval_request": ("assistant", ["function_approval_request"]),
    "mcp_approval_response": ("user", ["function_approval_response"]),
    "custom_tool_call": ("assistant", ["function_call"]),
    "custom_tool_call_output": ("tool", ["mcp_server_tool_result"]),
    "message": ("user", ["text", "uri", "text", "hosted_file"]),
    "structured_outputs": ("assistant", ["text"]),
    "oauth_consent_request": ("assistant", ["oauth_consent_request"]),
}
UNCONVERTED = [kind for kind in OUTPUT_ITEM_TYPES if kind not in EXPECTED]


def test_fixtures_cover_all_51_output_item_types_with_their_required_fields() -> None:
    assert len(OUTPUT_ITEM_TYPES) == 51 == len(set(OUTPUT_ITEM_TYPES))
    assert set(FIXTURES) == set(OUTPUT_ITEM_TYPES) == set(REQUIRED)
    for kind, item in FIXTURES.items():
        assert item["type"] == kind
        assert isinstance(item["id"], str) and item["id"]
        assert REQUIRED[kind] <= set(item), kind


def test_fixture_keys_match_the_sdk_typeddicts() -> None:
    """Extra check against the SDK's own TypedDicts, where the SDK is installed."""
    types = pytest.importorskip("azure.ai.agentserver.responses.models._generated.types")
    union = typing.get_args(types.OutputItem)
    seen: set[str] = set()
    for ref in union:
        model = getattr(types, ref.__forward_arg__) if isinstance(ref, typing.ForwardRef) else ref
        kind = typing.get_args(typing.get_args(model.__annotations__["type"])[0])[0]
        seen.add(kind)
        assert set(model.__required_keys__) - {"id", "type"} == REQUIRED[kind], kind
        assert set(FIXTURES[kind]) <= set(model.__annotations__), kind
    assert seen == set(OUTPUT_ITEM_TYPES)
    assert set(typing.get_args(types.OutputItemType)) == set(OUTPUT_ITEM_TYPES)


def test_converted_item_types_are_exactly_the_expected_ones() -> None:
    assert set(EXPECTED) == CONVERTED_ITEM_TYPES


@pytest.mark.parametrize("kind", OUTPUT_ITEM_TYPES)
def test_every_output_item_type_loads(kind: str) -> None:
    item = copy.deepcopy(FIXTURES[kind])
    result = read_items([item])
    expected = EXPECTED.get(kind)
    if expected is None:
        assert result.messages == []
        assert [(s.index, s.type, s.malformed) for s in result.skipped] == [(0, kind, False)]
        return
    assert result.skipped == []
    (message,) = result.messages
    assert (message.role, [c.type for c in message.contents]) == expected
    assert message.message_id == item["id"]
    assert item == FIXTURES[kind]  # reading never changes the item


def test_all_51_types_in_one_history_load_with_one_warning_per_unconverted_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [copy.deepcopy(FIXTURES[kind]) for kind in OUTPUT_ITEM_TYPES] * 2
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.conversion"):
        messages = to_messages(items)
    assert len(messages) == 2 * len(EXPECTED)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == len(UNCONVERTED)
    for kind in UNCONVERTED:
        assert sum(f"{kind!r}" in text for text in warned) == 1
        assert any(f"{kind!r}" in text and "2 left out" in text for text in warned)


def test_unknown_future_item_type_loads_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    future = {"type": "hologram_call", "id": "hg_1", "payload": {"x": 1}}
    items = [FIXTURES["function_call"], future, FIXTURES["function_call_output"]]
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.conversion"):
        messages = to_messages(items)
    assert [m.contents[0].type for m in messages] == ["function_call", "function_result"]
    assert len(caplog.records) == 1 and "'hologram_call'" in caplog.records[0].getMessage()


def test_kept_whole_items_are_written_back_unchanged() -> None:
    items = [copy.deepcopy(FIXTURES[kind]) for kind in UNCONVERTED] + [{"type": "hologram_call", "id": "hg_1"}]
    messages = to_messages(items, keep_unconverted=True)
    assert all(m.contents == [] and UNCONVERTED_KEY in m.additional_properties for m in messages)
    assert to_items(messages) == items


def test_kept_whole_items_keep_their_place_among_converted_ones() -> None:
    items = [FIXTURES["function_call"], FIXTURES["compaction"], FIXTURES["function_call_output"]]
    messages = to_messages(items, keep_unconverted=True)
    assert [m.contents[0].type if m.contents else None for m in messages] == ["function_call", None, "function_result"]
    assert to_items(messages)[1] == FIXTURES["compaction"]


@pytest.mark.parametrize(
    ("broken", "label", "reason", "message_id"),
    [
        ({"type": "function_call", "id": "fc_x"}, "function_call", "missing required field(s) arguments", "fc_x"),
        ({"id": "no-type"}, "<missing>", "missing required field 'type'", "no-type"),
        ({"type": "", "id": 5}, "<missing>", "missing required field 'type'", None),
        ("text", "<missing>", "TypeError: an item must be a dict, got str", None),
        (
            {"type": "message", "id": "m", EXTENSION_KEY: {"message": {"role": 5}, "index": 0}},
            "message",
            f"ValueError: {EXTENSION_KEY}.message.role must be a string, got 5",
            "m",
        ),
    ],
)
def test_a_malformed_item_is_kept_whole_when_asked(broken: Any, label: str, reason: str, message_id: Any) -> None:
    items = [FIXTURES["function_call"], broken, FIXTURES["function_call_output"]]
    result = read_items(items, keep_unconverted=True)
    assert [m.contents[0].type if m.contents else None for m in result.messages] == [
        "function_call",
        None,
        "function_result",
    ]
    placeholder = result.messages[1]
    assert placeholder.additional_properties[UNCONVERTED_KEY] == broken
    assert (placeholder.role, placeholder.message_id, placeholder.contents) == ("assistant", message_id, [])
    (skipped,) = result.skipped
    assert (skipped.index, skipped.type, skipped.malformed) == (1, label, True)
    assert skipped.reason.startswith(reason), skipped.reason
    if isinstance(broken, dict):  # a dict comes back unchanged where it was
        assert to_items(result.messages)[1] == broken
    assert len(read_items(items).messages) == 2  # without keep_unconverted it is left out


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_a_malformed_item_is_reported_and_the_rest_still_loads(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    broken = copy.deepcopy(FIXTURES[kind])
    field = sorted(REQUIRED[kind] - {"status", "role"} or REQUIRED[kind])[0]
    del broken[field]
    items = [FIXTURES["function_call"], broken, FIXTURES["function_call_output"]]
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.conversion"):
        result = read_items(items)
        to_messages(items)
    assert [m.contents[0].type for m in result.messages] == ["function_call", "function_result"]
    (skipped,) = result.skipped
    assert (skipped.index, skipped.type, skipped.malformed) == (1, kind, True)
    assert field in skipped.reason
    (record,) = caplog.records
    assert "item 1" in record.getMessage() and repr(kind) in record.getMessage()


@pytest.mark.parametrize("bad", [None, "text", 3, {}, {"type": ""}, {"id": "x"}])
def test_items_that_are_not_items_are_reported(bad: Any) -> None:
    result = read_items([bad, FIXTURES["function_call"]])
    assert len(result.messages) == 1
    assert [(s.index, s.malformed) for s in result.skipped] == [(0, True)]


# region service rules, one by one


def one(kind: str, **changes: Any) -> Any:
    item = {**copy.deepcopy(FIXTURES[kind]), **changes}
    (message,) = to_messages([item])
    return message


def test_output_message_and_message_read_alike_with_refusal_marked() -> None:
    message = one("output_message")
    assert [c.text for c in message.contents] == ["Here", "I can't do that"]
    assert message.contents[1].additional_properties["model_output_kind"] == "refusal"
    assert message.contents[1].additional_properties["core"] == {"model_output_kind": "refusal"}
    as_message = one("message", role="assistant", content=FIXTURES["output_message"]["content"])
    assert [c.to_dict() for c in as_message.contents] == [c.to_dict() for c in message.contents]


def test_message_parts_follow_the_hosting_rules() -> None:
    text, image, inline, hosted = one("message").contents
    assert text.text == "Look at"
    assert (image.type, image.uri, image.media_type) == ("uri", "https://example.com/cat.png", "image/*")
    assert inline.text == "[File: notes.txt]\nhello"  # inline text/* file data: decoded
    assert (hosted.file_id, hosted.name) == ("file_9", "report.pdf")


def test_inline_binary_file_data_stays_a_data_uri() -> None:
    part = {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}
    (content,) = one("message", content=[part]).contents
    assert (content.type, content.uri, content.media_type, content.name) == (
        "data",
        "data:application/pdf;base64,JVBERi0=",
        "application/pdf",
        "a.pdf",
    )


def test_message_content_may_be_a_plain_string() -> None:
    assert [c.text for c in one("message", content="just text").contents] == ["just text"]


def test_custom_tool_call_output_routes_by_call_id_prefix() -> None:
    mcp = one("custom_tool_call_output").contents[0]
    assert (mcp.type, mcp.call_id, mcp.output) == ("mcp_server_tool_result", "mcp_42", "tool says hi")
    plain = one("custom_tool_call_output", call_id="call_9").contents[0]
    assert (plain.type, plain.call_id, plain.result) == ("function_result", "call_9", "tool says hi")


def test_function_call_and_output_fields() -> None:
    call = one("function_call").contents[0]
    assert (call.call_id, call.name, call.arguments, call.status) == (
        "call_1",
        "get_weather",
        '{"city": "Paris"}',
        "completed",
    )
    result = one("function_call_output").contents[0]
    assert (result.call_id, result.result) == ("call_1", "sunny")


def test_reasoning_keeps_each_summary_and_the_encrypted_content() -> None:
    first, second = one("reasoning").contents
    assert (first.id, first.text, first.protected_data) == ("rs_1", "First", "opaque")
    assert (second.id, second.text, second.protected_data) == ("rs_1", "Second", None)


def test_mcp_call_with_output_gives_call_and_result() -> None:
    call, result = one("mcp_call").contents
    assert (call.call_id, call.tool_name, call.server_name, call.arguments) == ("mcp_1", "search", "docs", '{"q": "x"}')
    assert (result.call_id, result.output) == ("mcp_1", "found")


def test_service_approval_response_points_at_its_request_without_a_store() -> None:
    request_message, response_message = to_messages(
        [FIXTURES["mcp_approval_request"], FIXTURES["mcp_approval_response"]]
    )
    request, response = request_message.contents[0], response_message.contents[0]
    assert request.id == response.id == "mcpr_1"
    assert response.approved is True
    assert response.function_call is not None and response.function_call.name == "delete"
    assert response.function_call.server_name == "docs"


def test_shell_items() -> None:
    call = one("shell_call").contents[0]
    assert (call.call_id, call.commands, call.timeout_ms, call.max_output_length) == ("call_s", ["echo hi"], 500, 100)
    result = one("shell_call_output").contents[0]
    assert [(o.stdout, o.exit_code, o.timed_out) for o in result.outputs] == [("hi\n", 0, False), ("", None, True)]
    local = one("local_shell_call").contents[0]
    assert (local.commands, local.timeout_ms) == (["ls", "-l"], 1000)
    assert one("local_shell_call_output").contents[0].outputs[0].stdout == "total 0"


def test_computer_items() -> None:
    call = one("computer_call").contents[0]
    assert (call.id, call.call_id, call.actions[0]["type"]) == ("cu_1", "call_c1", "click")
    assert call.pending_safety_checks == [{"id": "sc_1", "code": "malicious", "message": "check"}]
    single = one("computer_call", actions=None, action={"type": "wait"}).contents[0]
    assert single.actions == [{"type": "wait"}]
    result = one("computer_call_output").contents[0]
    assert result.screenshot is not None and result.screenshot.type == "data"


def test_hosted_search_and_tool_calls_are_informational() -> None:
    for kind, name in (
        ("file_search_call", "file_search"),
        ("web_search_call", "web_search"),
        ("apply_patch_call", "apply_patch"),
    ):
        call = one(kind).contents[0]
        assert (call.name, call.informational_only, call.hosted) == (name, True, True), kind
    assert one("file_search_call").contents[0].arguments == '{"queries": ["q1", "q2"]}'
    custom = one("custom_tool_call").contents[0]
    assert (custom.call_id, custom.name, custom.arguments, custom.hosted) == ("call_x", "grammar", "a+b", True)


def test_misc_items() -> None:
    assert one("oauth_consent_request").contents[0].consent_link == "https://login.example.com/c"
    assert one("structured_outputs").contents[0].text == '{"answer": 42}'
    assert one("code_interpreter_call").contents[0].call_id == "ci_1"
    assert one("image_generation_call").contents[0].image_id == "ig_1"
    assert one("apply_patch_call_output").contents[0].result == "done"


# endregion


def _sdk_models() -> tuple[dict[str, Any], dict[str, Any]]:
    """OutputItem and MessageContent TypedDicts of the SDK, by ``type`` value."""
    types = pytest.importorskip("azure.ai.agentserver.responses.models._generated.types")

    def by_type(union: Any) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for ref in typing.get_args(union):
            model = getattr(types, ref.__forward_arg__) if isinstance(ref, typing.ForwardRef) else ref
            models[typing.get_args(typing.get_args(model.__annotations__["type"])[0])[0]] = model
        return models

    return by_type(types.OutputItem), by_type(types.MessageContent)


def _literal_values(annotation: Any) -> tuple[Any, ...] | None:
    while typing.get_origin(annotation) in (typing.Required, typing.NotRequired):
        (annotation,) = typing.get_args(annotation)
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else None


def sdk_errors(item: dict[str, Any], items: dict[str, Any], parts: dict[str, Any]) -> list[str]:
    """What makes ``item`` (without the extension key) not an SDK OutputItem: keys and literal values."""
    model = items.get(item["type"])
    if model is None:
        return [f"unknown item type {item['type']!r}"]
    errors: list[str] = []
    fields = {k: v for k, v in item.items() if k != EXTENSION_KEY}
    errors += [f"missing {key}" for key in sorted(model.__required_keys__ - set(fields))]
    for key, value in fields.items():
        if key not in model.__annotations__:
            errors.append(f"unknown key {key}")
        elif (allowed := _literal_values(model.__annotations__[key])) is not None and value not in allowed:
            errors.append(f"{key}={value!r} not in {allowed}")
    if item["type"] in ("message", "output_message"):
        for part in item["content"]:
            part_model = parts.get(part["type"])
            if part_model is None:
                errors.append(f"unknown part {part['type']!r}")
                continue
            errors += [f"part missing {key}" for key in sorted(part_model.__required_keys__ - set(part))]
            errors += [f"part key {key}" for key in part if key not in part_model.__annotations__]
    return errors


def test_fixtures_are_valid_sdk_items() -> None:
    items, parts = _sdk_models()
    for kind, item in FIXTURES.items():
        assert sdk_errors(item, items, parts) == [], kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(messages(), max_size=4))
def test_written_items_are_valid_sdk_items(batch: list[Any]) -> None:
    items, parts = _sdk_models()
    for item in to_items(batch):
        assert sdk_errors(item, items, parts) == [], item


def test_an_item_without_a_rule_is_kept_as_an_assistant_placeholder_with_its_id() -> None:
    future = {"type": "hologram_call", "id": "hg_1"}
    result = read_items([future], keep_unconverted=True)
    (placeholder,) = result.messages
    assert (placeholder.role, placeholder.message_id) == ("assistant", "hg_1")
    (skipped,) = result.skipped
    assert skipped == type(skipped)(0, "hologram_call", "no conversion rule for this item type", False)


def test_an_extension_without_a_message_header_reads_the_item_by_its_type() -> None:
    call = {**FIXTURES["function_call"], EXTENSION_KEY: {"index": 0}}
    result = read_items([call])
    assert result.skipped == []
    assert [m.contents[0].type for m in result.messages] == ["function_call"]


def test_an_item_without_an_index_starts_a_message_of_its_own() -> None:
    header = {"role": "user", "message_id": "m"}
    first = {"type": "message", "id": "m", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    second = {**first, "id": "m.1", "content": [{"type": "input_text", "text": "b"}]}
    first[EXTENSION_KEY] = {"message": header, "index": 0}
    second[EXTENSION_KEY] = {"message": header}
    assert [[c.text for c in m.contents] for m in to_messages([first, second])] == [["a"], ["b"]]
    second[EXTENSION_KEY] = {"message": header, "index": 1}
    assert [[c.text for c in m.contents] for m in to_messages([first, second])] == [["a", "b"]]
