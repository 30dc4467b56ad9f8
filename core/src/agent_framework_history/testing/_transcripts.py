"""Transcripts with tool calls, reasoning, approvals and MCP calls, and what makes a window of one valid.

Shared by the conformance kit and the cross-package tests. :func:`window_problems` judges a window
through agent-framework's own ``Message`` / ``Content`` objects (``to_messages``), independently of
how the store chooses the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from agent_framework import Content, Message

from .._store import Item
from ..conversion import to_items, to_messages

__all__ = ["WINDOW_TRANSCRIPTS", "shortest_valid_window", "window_problems", "window_transcript"]


def _call(call_id: str, name: str = "weather", **arguments: Any) -> Content:
    return Content.from_function_call(call_id=call_id, name=name, arguments=arguments or {"city": "Paris"})


def _reasoning(n: int) -> Content:
    return Content.from_text_reasoning(id=f"rs_{n}", text=f"thinking {n}", protected_data=f"encrypted-{n}")


def _tools() -> list[list[Message]]:
    """Turns with reasoning before calls, parallel calls, results in one message and in several."""
    return [
        [
            Message("user", ["What is the weather in Paris and in Rome?"], message_id="u1"),
            Message("assistant", [_reasoning(1), _call("call_1"), _call("call_2", city="Rome")], message_id="a1"),
            Message(
                "tool",
                [
                    Content.from_function_result(call_id="call_1", result="sunny"),
                    Content.from_function_result(call_id="call_2", result="rain"),
                ],
                message_id="t1",
            ),
            Message("assistant", ["Sunny in Paris, ", "rain in Rome."], message_id="a2"),
        ],
        [
            Message("user", ["And tomorrow?"], message_id="u2"),
            Message("assistant", [_reasoning(2)], message_id="a3"),
            Message("assistant", [_call("call_3", name="forecast")], message_id="a4"),
            Message("tool", [Content.from_function_result(call_id="call_3", result="sunny")], message_id="t2"),
            Message("assistant", [_call("call_4", name="forecast", city="Rome")], message_id="a5"),
            Message("tool", [Content.from_function_result(call_id="call_4", result="sunny")], message_id="t3"),
            Message("assistant", ["Sunny in both."], message_id="a6"),
        ],
    ]


def _approvals() -> list[list[Message]]:
    """A local approval (agent-framework's own tools) and a hosted MCP approval, then the MCP call."""
    local = _call("call_9", name="delete_file", path="/tmp/x")
    hosted = Content.from_function_call(
        call_id="mcpr_1", name="search_docs", arguments={"q": "history"}, hosted=True, server_name="docs"
    )
    return [
        [
            Message("user", ["Delete /tmp/x"], message_id="u1"),
            Message(
                "assistant",
                [_reasoning(1), Content.from_function_approval_request(id="appr_1", function_call=local)],
                message_id="a1",
            ),
        ],
        [
            Message(
                "user",
                [Content.from_function_approval_response(approved=True, id="appr_1", function_call=local)],
                message_id="u2",
            ),
            Message("assistant", [local], message_id="a2"),
            Message("tool", [Content.from_function_result(call_id="call_9", result="deleted")], message_id="t1"),
            Message("assistant", ["Deleted."], message_id="a3"),
        ],
        [
            Message("user", ["Search the docs for history"], message_id="u3"),
            Message(
                "assistant",
                [Content.from_function_approval_request(id="mcpr_1", function_call=hosted)],
                message_id="a4",
            ),
        ],
        [
            Message(
                "user",
                [Content.from_function_approval_response(approved=True, id="mcpr_1", function_call=hosted)],
                message_id="u4",
            ),
            Message(
                "assistant",
                [
                    Content.from_mcp_server_tool_call(
                        call_id="mcp_1", tool_name="search_docs", server_name="docs", arguments={"q": "history"}
                    ),
                    Content.from_mcp_server_tool_result(call_id="mcp_1", output="three pages"),
                    Content.from_text("Found three pages."),
                ],
                message_id="a5",
            ),
        ],
    ]


def _service() -> list[list[Item]]:
    """Items as the Responses service writes them (no extension key): one item, one message."""

    def text(item_id: str, role: str, value: str) -> Item:
        part = "output_text" if role == "assistant" else "input_text"
        return {"type": "message", "id": item_id, "role": role, "content": [{"type": part, "text": value}]}

    def reasoning(item_id: str) -> Item:
        return {"type": "reasoning", "id": item_id, "summary": [], "encrypted_content": f"enc-{item_id}"}

    def call(item_id: str, call_id: str) -> Item:
        return {"type": "function_call", "id": item_id, "call_id": call_id, "name": "lookup", "arguments": "{}"}

    def output(item_id: str, call_id: str) -> Item:
        return {"type": "function_call_output", "id": item_id, "call_id": call_id, "output": "found"}

    return [
        [text("msg_s1", "user", "Look it up"), reasoning("rs_s1"), call("fc_s1", "c1"), output("fco_s1", "c1")],
        [text("msg_s2", "assistant", "Found it."), text("msg_s3", "user", "Ask the docs server")],
        [
            {
                "type": "mcp_approval_request",
                "id": "mcpr_s1",
                "name": "search",
                "arguments": "{}",
                "server_label": "docs",
            },
            {"type": "mcp_approval_response", "id": "mcpa_s1", "approval_request_id": "mcpr_s1", "approve": True},
            {
                "type": "mcp_call",
                "id": "mcp_s1",
                "name": "search",
                "arguments": "{}",
                "server_label": "docs",
                "output": "two pages",
            },
            reasoning("rs_s2"),
            call("fc_s2", "c2"),
            call("fc_s3", "c3"),
            output("fco_s2", "c2"),
            output("fco_s3", "c3"),
            text("msg_s4", "assistant", "Two pages."),
        ],
    ]


def window_transcript(name: str) -> list[list[Item]]:
    """The turns (each a list of items, appended in one call) of a named transcript."""
    if name == "service":
        return _service()
    turns = _tools() if name == "tools" else _approvals()
    return [to_items(turn) for turn in turns]


WINDOW_TRANSCRIPTS: Final = ("tools", "approvals", "service")
"""Names of the transcripts :func:`window_transcript` builds."""

_CALLS: Final = {
    "function_call": "call_id",
    "mcp_server_tool_call": "call_id",
    "shell_tool_call": "call_id",
    "computer_tool_call": "call_id",
    "code_interpreter_tool_call": "call_id",
}
_RESULTS: Final = {
    "function_result": "call_id",
    "mcp_server_tool_result": "call_id",
    "shell_tool_result": "call_id",
    "computer_tool_result": "call_id",
    "code_interpreter_tool_result": "call_id",
}


def window_problems(full: Sequence[Item], window: Sequence[Item], limit: int) -> list[str]:
    """Why ``window`` is not a valid ``load(limit=limit)`` of the chain ``full`` (``[]``: it is valid)."""
    problems: list[str] = []
    if len(window) < min(limit, len(full)):
        problems.append(f"{len(window)} items, fewer than the limit {limit}")
    start = len(full) - len(window)
    if list(full[start:]) != list(window):
        return [*problems, "not the latest items of the chain, in order"]
    if start > 0 and full[start - 1].get("type") == "reasoning":
        problems.append(f"starts at {window[0]['id']!r}, cut from the reasoning item {full[start - 1]['id']!r}")
    whole = {message.message_id: message for message in to_messages(list(full)) if message.message_id}
    messages = to_messages(list(window))
    if messages:
        first = messages[0]
        kept = whole.get(first.message_id) if first.message_id else None
        if kept is not None and len(kept.contents) != len(first.contents):
            problems.append(
                f"message {first.message_id!r} is cut: {len(first.contents)} of its {len(kept.contents)} contents"
            )
    calls: set[str] = set()
    requests: set[str] = set()
    for message in messages:
        for content in message.contents:
            if content.type in _CALLS and content.call_id:
                calls.add(content.call_id)
            elif content.type == "function_approval_request" and content.id:
                requests.add(content.id)
    for message in messages:
        for content in message.contents:
            if content.type in _RESULTS and content.call_id not in calls:
                problems.append(f"{content.type} for {content.call_id!r} without its call")
            elif content.type == "function_approval_response" and content.id not in requests:
                problems.append(f"approval response {content.id!r} without its request")
    return problems


def shortest_valid_window(full: Sequence[Item], limit: int) -> int:
    """How many items the valid window of at least ``limit`` items holds: the fewest that are valid."""
    for size in range(min(limit, len(full)), len(full) + 1):
        if not window_problems(full, full[len(full) - size :], limit):
            return size
    return len(full)
