"""A readable transcript straight from stored Responses items (every item type, known or not)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from .._json import is_json_array, is_json_object
from .._store import Item

__all__ = ["Entry", "describe", "transcript"]

_TEXT_PARTS: Final = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
_MAX_VALUE: Final = 2000


@dataclass(frozen=True, slots=True)
class Entry:
    """One transcript line: who, what kind of item, and its readable text."""

    index: int
    id: str
    type: str
    role: str
    kind: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _part_text(part: Any) -> str:
    if not is_json_object(part):
        return _short(part)
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return str(part.get("text", ""))
    if kind == "refusal":
        return f"[refusal] {part.get('refusal', '')}"
    if kind == "input_image":
        return f"[image {part.get('image_url') or part.get('file_id') or ''}]".replace(" ]", "]")
    if kind == "input_file":
        name = part.get("filename") or part.get("file_url") or part.get("file_id") or ""
        return f"[file {name}]".replace(" ]", "]")
    if kind == "input_audio":
        return "[audio]"
    return f"[{kind}]"


def _parts(value: Any) -> str:
    if isinstance(value, str):
        return value
    if is_json_array(value):
        return "\n".join(_part_text(part) for part in value)
    return "" if value is None else _short(value)


def _call(name: Any, arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            return f"{name}({arguments})"
    return f"{name}({_short(arguments) if arguments not in (None, '') else ''})"


def _approval_request_id(item: Item) -> str:
    """The id an approval answer names: agent-framework's own request id when the item was converted from one.

    A ``function_approval_request`` content keeps its id in the item's ``agent_framework`` record, and the
    converted answer's ``approval_request_id`` is that id; a Responses-native request is named by its item id.
    """
    record = item.get("agent_framework")
    contents = record.get("contents") if is_json_object(record) else None
    for content in contents if is_json_array(contents) else []:
        if is_json_object(content) and content.get("type") == "function_approval_request":
            fields = content.get("fields")
            request_id = fields.get("id") if is_json_object(fields) else None
            if isinstance(request_id, str) and request_id:
                return request_id
    return str(item.get("id", ""))


def describe(index: int, item: Item) -> Entry:
    """How one item reads in a transcript."""
    kind = str(item.get("type", "?"))
    item_id = str(item.get("id", ""))
    role = "assistant"
    label = kind
    text: str
    if kind in {"message", "output_message"}:
        role = str(item.get("role", "assistant"))
        label = "message"
        text = _parts(item.get("content"))
    elif kind in {"function_call", "custom_tool_call"}:
        label = "tool call"
        text = f"{_call(item.get('name'), item.get('arguments', item.get('input')))}  [call {item.get('call_id')}]"
    elif kind in {"function_call_output", "custom_tool_call_output"}:
        role, label = "tool", "tool result"
        text = f"[call {item.get('call_id')}] {_parts(item.get('output'))}"
    elif kind == "mcp_call":
        label = "tool call"
        server = item.get("server_label")
        text = _call(f"{server}.{item.get('name')}" if server else item.get("name"), item.get("arguments"))
        if item.get("output") is not None:
            text += f" -> {_short(item.get('output'))}"
        if item.get("error"):
            text += f" !! {_short(item.get('error'))}"
    elif kind == "mcp_approval_request":
        label = "approval request"
        server = item.get("server_label")
        name = f"{server}.{item.get('name')}" if server else item.get("name")
        text = f"may I call {_call(name, item.get('arguments'))}?  [request {_approval_request_id(item)}]"
    elif kind == "mcp_approval_response":
        role, label = "user", "approval"
        verdict = "approved" if item.get("approve") else "denied"
        reason = f": {item['reason']}" if item.get("reason") else ""
        text = f"{verdict}{reason}  [request {item.get('approval_request_id')}]"
    elif kind == "reasoning":
        label = "reasoning"
        text = _parts(item.get("summary")) or _parts(item.get("content")) or "(hidden)"
    else:
        fields = {k: v for k, v in item.items() if k not in {"type", "id", "agent_framework"}}
        text = _short(fields) if fields else ""
    return Entry(index=index, id=item_id, type=kind, role=role, kind=label, text=text)


def transcript(items: Sequence[Item]) -> list[Entry]:
    return [describe(index, item) for index, item in enumerate(items)]
