"""Item rules: one content → one Responses item, and how every item type reads back.

``WRITERS`` maps a content type to the function building its item (without ``id``).
``READERS`` maps an item type to its role and the function reading it as content dicts, following
the agent-framework hosting package for items written by the service or other writers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .._json import is_json_array, is_json_object
from ._fields import json_text, text_dict
from ._parts import read_part, read_screenshot, write_screenshot

__all__ = ["EXTRA_CONTENT_TYPES", "READERS", "REQUIRED_FIELDS", "WRITERS", "ApprovalRequests", "read_natural"]

ApprovalRequests = dict[str, dict[str, Any]]
"""Approval request id → its ``function_call`` fields, collected while reading one history."""

Writer = Callable[[dict[str, Any]], dict[str, Any]]
Reader = Callable[[dict[str, Any], "ApprovalRequests | None"], list[dict[str, Any]]]

EXTRA_CONTENT_TYPES: Final = frozenset(
    {
        "error",
        "usage",
        "hosted_vector_store",
        "code_interpreter_tool_result",
        "search_tool_result",
        "shell_command_output",
    }
)
"""Content types with no natural item or part: they ride in the extension key of a ``message`` item."""

_CALL_STATUSES: Final = frozenset({"in_progress", "completed", "incomplete"})
_MCP_STATUSES: Final = frozenset({"in_progress", "completed", "incomplete", "calling", "failed"})
_INTERPRETER_STATUSES: Final = frozenset({"in_progress", "completed", "incomplete", "interpreting", "failed"})
_IMAGE_STATUSES: Final = frozenset({"in_progress", "completed", "generating", "failed"})
_WEB_STATUSES: Final = frozenset({"in_progress", "searching", "completed", "failed"})
_FILE_SEARCH_STATUSES: Final = frozenset({"in_progress", "searching", "completed", "incomplete", "failed"})


def _status(fields: dict[str, Any], allowed: frozenset[str], default: str | None = "completed") -> str | None:
    status = fields.get("status")
    return status if status in allowed else default


def _with_status(item: dict[str, Any], fields: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    if (status := _status(fields, allowed, None)) is not None:
        item["status"] = status
    return item


# region writers (content fields → item without id)


def _write_reasoning(fields: dict[str, Any]) -> dict[str, Any]:
    text = fields.get("text")
    item: dict[str, Any] = {
        "type": "reasoning",
        "summary": [] if text is None else [{"type": "summary_text", "text": text}],
    }
    if (encrypted := fields.get("protected_data")) is not None:
        item["encrypted_content"] = encrypted
    return _with_status(item, fields, _CALL_STATUSES)


def _write_function_call(fields: dict[str, Any]) -> dict[str, Any]:
    item = {
        "type": "function_call",
        "call_id": fields.get("call_id") or "",
        "name": fields.get("name") or "",
        "arguments": json_text(fields.get("arguments")),
    }
    return _with_status(item, fields, _CALL_STATUSES)


def _write_function_result(fields: dict[str, Any]) -> dict[str, Any]:
    item = {
        "type": "function_call_output",
        "call_id": fields.get("call_id") or "",
        "output": json_text(fields.get("result")),
    }
    return _with_status(item, fields, _CALL_STATUSES)


def _write_approval_request(fields: dict[str, Any]) -> dict[str, Any]:
    call = fields.get("function_call")
    call = call if is_json_object(call) else {}
    return {
        "type": "mcp_approval_request",
        "name": call.get("name") or "",
        "arguments": json_text(call.get("arguments")),
        "server_label": call.get("server_name") or "agent_framework",
    }


def _write_approval_response(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "mcp_approval_response",
        "approval_request_id": fields.get("id") or "",
        "approve": fields.get("approved") is True,
    }


def _write_mcp_call(fields: dict[str, Any]) -> dict[str, Any]:
    item = {
        "type": "mcp_call",
        "name": fields.get("tool_name") or "",
        "server_label": fields.get("server_name") or "",
        "arguments": json_text(fields.get("arguments")),
    }
    return _with_status(item, fields, _MCP_STATUSES)


def _write_mcp_result(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "custom_tool_call_output",
        "call_id": fields.get("call_id") or "",
        "output": json_text(fields.get("output")),
        "status": "completed",
    }


def _first_text(values: Any) -> str | None:
    if is_json_array(values):
        for value in values:
            if is_json_object(value) and value.get("type") == "text":
                text = value.get("text")
                return text if isinstance(text, str) else None
    return None


def _write_code_interpreter_call(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "code_interpreter_call",
        "status": _status(fields, _INTERPRETER_STATUSES),
        "container_id": "",
        "code": _first_text(fields.get("inputs")),
        "outputs": [],
    }


def _write_image_call(fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image_generation_call", "status": _status(fields, _IMAGE_STATUSES), "result": None}


def _write_image_result(fields: dict[str, Any]) -> dict[str, Any]:
    outputs = fields.get("outputs")
    result = None
    if is_json_object(outputs) and isinstance(uri := outputs.get("uri"), str) and ";base64," in uri:
        result = uri.partition(";base64,")[2]
    return {"type": "image_generation_call", "status": "completed", "result": result}


def _write_shell_call(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "shell_call",
        "call_id": fields.get("call_id") or "",
        "action": {
            "commands": fields.get("commands") or [],
            "timeout_ms": fields.get("timeout_ms"),
            "max_output_length": fields.get("max_output_length"),
        },
        "environment": {"type": "local"},
        "status": _status(fields, _CALL_STATUSES),
    }


def _write_command_output(fields: Any) -> dict[str, Any]:
    output = fields if is_json_object(fields) else {}
    timed_out = output.get("timed_out") is True
    exit_code = output.get("exit_code")
    return {
        "stdout": output.get("stdout") or "",
        "stderr": output.get("stderr") or "",
        "outcome": {"type": "timeout"}
        if timed_out
        else {"type": "exit", "exit_code": exit_code if isinstance(exit_code, int) else 0},
    }


def _write_shell_result(fields: dict[str, Any]) -> dict[str, Any]:
    outputs = fields.get("outputs")
    return {
        "type": "shell_call_output",
        "call_id": fields.get("call_id") or "",
        "output": [_write_command_output(o) for o in outputs] if is_json_array(outputs) else [],
        "max_output_length": fields.get("max_output_length"),
        "status": "completed",
    }


def _write_computer_call(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "computer_call",
        "call_id": fields.get("call_id") or "",
        "actions": fields.get("actions") or [],
        "pending_safety_checks": fields.get("pending_safety_checks") or [],
        "status": _status(fields, _CALL_STATUSES),
    }


def _write_computer_result(fields: dict[str, Any]) -> dict[str, Any]:
    screenshot = fields.get("screenshot")
    item: dict[str, Any] = {
        "type": "computer_call_output",
        "call_id": fields.get("call_id") or "",
        "output": write_screenshot(screenshot if is_json_object(screenshot) else None),
    }
    if (checks := fields.get("acknowledged_safety_checks")) is not None:
        item["acknowledged_safety_checks"] = checks
    return _with_status(item, fields, _CALL_STATUSES)


def _write_search_call(fields: dict[str, Any]) -> dict[str, Any]:
    arguments = fields.get("arguments")
    arguments = arguments if is_json_object(arguments) else {}
    if fields.get("tool_name") == "file_search":
        queries = arguments.get("queries")
        return {
            "type": "file_search_call",
            "queries": [q for q in queries if isinstance(q, str)] if is_json_array(queries) else [],
            "status": _status(fields, _FILE_SEARCH_STATUSES),
        }
    action: dict[str, Any] = {"type": "search"}
    if isinstance(query := arguments.get("query"), str):
        action["query"] = query
    return {"type": "web_search_call", "action": action, "status": _status(fields, _WEB_STATUSES)}


def _write_oauth(fields: dict[str, Any]) -> dict[str, Any]:
    properties = fields.get("additional_properties")
    label = properties.get("server_label") if is_json_object(properties) else None
    return {
        "type": "oauth_consent_request",
        "consent_link": fields.get("consent_link") or "",
        "server_label": label if isinstance(label, str) and label else "agent_framework",
    }


WRITERS: Final[dict[str, Writer]] = {
    "text_reasoning": _write_reasoning,
    "function_call": _write_function_call,
    "function_result": _write_function_result,
    "function_approval_request": _write_approval_request,
    "function_approval_response": _write_approval_response,
    "mcp_server_tool_call": _write_mcp_call,
    "mcp_server_tool_result": _write_mcp_result,
    "code_interpreter_tool_call": _write_code_interpreter_call,
    "image_generation_tool_call": _write_image_call,
    "image_generation_tool_result": _write_image_result,
    "shell_tool_call": _write_shell_call,
    "shell_tool_result": _write_shell_result,
    "computer_tool_call": _write_computer_call,
    "computer_tool_result": _write_computer_result,
    "search_tool_call": _write_search_call,
    "oauth_consent_request": _write_oauth,
}

# endregion

# region readers (item → content dicts)


def _parts(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    content = item["content"]
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    read: list[dict[str, Any]] = []
    for part in content:
        fields = read_part(part)
        if fields is None:
            raise ValueError(f"message part type {part.get('type')!r} has no conversion rule")
        read.append(fields)
    return read


def _result(call_id: str, output: Any, status: Any = None) -> dict[str, Any]:
    text = json_text(output)
    fields = {"type": "function_result", "call_id": call_id, "result": text, "items": [text_dict(text)]}
    if isinstance(status, str):
        fields["status"] = status
    return fields


def _hosted_call(call_id: str, name: str, arguments: Any = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "informational_only": True,
        "hosted": True,
    }
    if arguments is not None:
        fields["arguments"] = arguments
    return fields


def _read_function_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    fields = {
        "type": "function_call",
        "call_id": item["call_id"],
        "name": item["name"],
        "arguments": item["arguments"],
        "hosted": False,
    }
    if isinstance(status := item.get("status"), str):
        fields["status"] = status
    return [fields]


def _read_function_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    call_id = item.get("call_id")
    if call_id is None:
        raise KeyError("call_id")
    return [_result(call_id, item["output"], item.get("status"))]


def _read_reasoning(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    item_id = item["id"]
    encrypted = item.get("encrypted_content")
    read: list[dict[str, Any]] = []
    summaries: list[Any] = item.get("summary") or [{}]
    for index, summary in enumerate(summaries):
        fields: dict[str, Any] = {"type": "text_reasoning", "id": item_id}
        if "text" in summary:
            fields["text"] = summary["text"]
        if index == 0 and encrypted is not None:
            fields["protected_data"] = encrypted
        read.append(fields)
    return read


def _read_mcp_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    fields = {
        "type": "mcp_server_tool_call",
        "call_id": item["id"],
        "tool_name": item["name"],
        "server_name": item["server_label"],
        "arguments": item["arguments"],
    }
    read = [fields]
    if (output := item.get("output")) is not None:
        read.append({"type": "mcp_server_tool_result", "call_id": item["id"], "output": output})
    return read


def _read_approval_request(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    call: dict[str, Any] = {
        "type": "function_call",
        "call_id": item["id"],
        "name": item["name"],
        "arguments": item["arguments"],
        "hosted": True,
        "server_name": item["server_label"],
        "additional_properties": {},
    }
    if requests is not None:
        requests[item["id"]] = call
    return [{"type": "function_approval_request", "id": item["id"], "function_call": call, "user_input_request": True}]


def _read_approval_response(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    request_id = item["approval_request_id"]
    fields: dict[str, Any] = {
        "type": "function_approval_response",
        "id": request_id,
        "approved": item["approve"] is True,
    }
    if requests is not None and (call := requests.get(request_id)) is not None:
        fields["function_call"] = call
    return [fields]


def _read_code_interpreter(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [{"type": "code_interpreter_tool_call", "call_id": item["id"]}]


def _read_image_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [{"type": "image_generation_tool_call", "image_id": item["id"]}]


def _command_output(stdout: Any = None, stderr: Any = None, outcome: Any = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "shell_command_output"}
    if stdout is not None:
        fields["stdout"] = stdout
    if stderr is not None:
        fields["stderr"] = stderr
    if is_json_object(outcome):
        if outcome.get("type") == "exit":
            if (code := outcome.get("exit_code")) is not None:
                fields["exit_code"] = code
            fields["timed_out"] = False
        elif outcome.get("type") == "timeout":
            fields["timed_out"] = True
    fields["additional_properties"] = {}
    return fields


def _read_shell_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    action = item["action"]
    fields: dict[str, Any] = {"type": "shell_tool_call", "call_id": item["call_id"], "commands": action["commands"]}
    for key in ("timeout_ms", "max_output_length"):
        if (value := action.get(key)) is not None:
            fields[key] = value
    if isinstance(status := item.get("status"), str):
        fields["status"] = status
    return [fields]


def _read_shell_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    written: list[Any] = item["output"] or []
    outputs = [_command_output(out.get("stdout") or "", out.get("stderr") or "", out["outcome"]) for out in written]
    fields: dict[str, Any] = {"type": "shell_tool_result", "call_id": item["call_id"], "outputs": outputs}
    if (limit := item.get("max_output_length")) is not None:
        fields["max_output_length"] = limit
    return [fields]


def _read_local_shell_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    action = item["action"]
    fields: dict[str, Any] = {
        "type": "shell_tool_call",
        "call_id": item["call_id"],
        "commands": action.get("command") or [],
        "status": str(item["status"]),
    }
    if (timeout := action.get("timeout_ms")) is not None:
        fields["timeout_ms"] = timeout
    return [fields]


def _read_local_shell_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [{"type": "shell_tool_result", "call_id": item["id"], "outputs": [_command_output(item["output"])]}]


def _read_file_search(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [_hosted_call(item["id"], "file_search", json_text({"queries": item["queries"]}))]


def _read_web_search(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [_hosted_call(item["id"], "web_search")]


def _safety_checks(checks: Any) -> list[dict[str, Any]] | None:
    if checks is None:
        return None
    parsed: list[dict[str, Any]] = []
    for check in checks:
        if not isinstance(check.get("id"), str) or not check["id"]:
            raise ValueError("a computer safety check needs an id")
        parsed.append({key: check[key] for key in ("id", "code", "message") if check.get(key) is not None})
    return parsed


def _read_computer_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    actions = item.get("actions") or ([item["action"]] if item.get("action") is not None else [])
    if not actions:
        raise KeyError("actions")
    fields: dict[str, Any] = {
        "type": "computer_tool_call",
        "id": item["id"],
        "call_id": item["call_id"],
        "actions": actions,
        "user_input_request": True,
    }
    if (status := item.get("status")) is not None:
        fields["status"] = status
    if (checks := _safety_checks(item.get("pending_safety_checks"))) is not None:
        fields["pending_safety_checks"] = checks
    return [fields]


def _read_computer_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    screenshot = read_screenshot(item["output"])
    screenshot["additional_properties"] = {}
    fields: dict[str, Any] = {"type": "computer_tool_result", "call_id": item["call_id"], "screenshot": screenshot}
    if (item_id := item.get("id")) is not None:
        fields["id"] = item_id
    if (status := item.get("status")) is not None:
        fields["status"] = status
    if (checks := _safety_checks(item.get("acknowledged_safety_checks"))) is not None:
        fields["acknowledged_safety_checks"] = checks
    return [fields]


def _read_custom_call(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [_hosted_call(item["call_id"], item["name"], item["input"])]


def _read_custom_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    call_id = item["call_id"]
    output = json_text(item["output"])
    if call_id and call_id.startswith("mcp_"):
        return [{"type": "mcp_server_tool_result", "call_id": call_id, "output": output}]
    return [_result(call_id, output)]


def _read_apply_patch(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [_hosted_call(item["call_id"], "apply_patch", json_text(item["operation"]))]


def _read_apply_patch_output(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [_result(item["call_id"], item.get("output"))]


def _read_oauth(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [{"type": "oauth_consent_request", "consent_link": item["consent_link"], "user_input_request": True}]


def _read_structured(item: dict[str, Any], requests: ApprovalRequests | None) -> list[dict[str, Any]]:
    return [{"type": "text", "text": json_text(item["output"])}]


READERS: Final[dict[str, tuple[str | None, Reader]]] = {
    "message": (None, _parts),
    "output_message": (None, _parts),
    "function_call": ("assistant", _read_function_call),
    "function_call_output": ("tool", _read_function_output),
    "reasoning": ("assistant", _read_reasoning),
    "mcp_call": ("assistant", _read_mcp_call),
    "mcp_approval_request": ("assistant", _read_approval_request),
    "mcp_approval_response": ("user", _read_approval_response),
    "code_interpreter_call": ("assistant", _read_code_interpreter),
    "image_generation_call": ("assistant", _read_image_call),
    "shell_call": ("assistant", _read_shell_call),
    "shell_call_output": ("tool", _read_shell_output),
    "local_shell_call": ("assistant", _read_local_shell_call),
    "local_shell_call_output": ("tool", _read_local_shell_output),
    "file_search_call": ("assistant", _read_file_search),
    "web_search_call": ("assistant", _read_web_search),
    "computer_call": ("assistant", _read_computer_call),
    "computer_call_output": ("tool", _read_computer_output),
    "custom_tool_call": ("assistant", _read_custom_call),
    "custom_tool_call_output": ("tool", _read_custom_output),
    "apply_patch_call": ("assistant", _read_apply_patch),
    "apply_patch_call_output": ("tool", _read_apply_patch_output),
    "oauth_consent_request": ("assistant", _read_oauth),
    "structured_outputs": ("assistant", _read_structured),
}
"""Item type → (role, reader); a ``None`` role means the item's own ``role``."""


REQUIRED_FIELDS: Final[dict[str, frozenset[str]]] = {
    "message": frozenset({"content", "role"}),
    "output_message": frozenset({"content", "role"}),
    "function_call": frozenset({"arguments", "call_id", "name"}),
    "function_call_output": frozenset({"output"}),
    "reasoning": frozenset({"summary"}),
    "mcp_call": frozenset({"arguments", "name", "server_label"}),
    "mcp_approval_request": frozenset({"arguments", "name", "server_label"}),
    "mcp_approval_response": frozenset({"approval_request_id", "approve"}),
    "code_interpreter_call": frozenset({"code", "container_id", "outputs"}),
    "image_generation_call": frozenset({"result"}),
    "shell_call": frozenset({"action", "call_id", "environment"}),
    "shell_call_output": frozenset({"call_id", "max_output_length", "output"}),
    "local_shell_call": frozenset({"action", "call_id"}),
    "local_shell_call_output": frozenset({"output"}),
    "file_search_call": frozenset({"queries"}),
    "web_search_call": frozenset({"action"}),
    "computer_call": frozenset({"call_id", "pending_safety_checks"}),
    "computer_call_output": frozenset({"call_id", "output"}),
    "custom_tool_call": frozenset({"call_id", "input", "name"}),
    "custom_tool_call_output": frozenset({"call_id", "output"}),
    "apply_patch_call": frozenset({"call_id", "operation"}),
    "apply_patch_call_output": frozenset({"call_id"}),
    "oauth_consent_request": frozenset({"consent_link", "server_label"}),
    "structured_outputs": frozenset({"output"}),
}
"""Fields an item of a converted type must have (the SDK's required fields, less ``id``, ``type`` and ``status``,
which items sent as request input often leave out)."""


def read_natural(item: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The natural reading of an item this package wrote: one entry per part, or per content of the item.

    A part without a rule reads as ``None`` so positions (``slot``) stay aligned. Raises when the item
    lacks a field its rule needs.
    """
    kind = item["type"]
    if kind in ("message", "output_message"):
        content = item["content"]
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        return [read_part(part) for part in content]
    rule = READERS.get(kind)
    if rule is None:
        return []
    return list(rule[1](item, None))


# endregion
