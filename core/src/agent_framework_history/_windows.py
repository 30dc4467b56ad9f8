"""Where a limited load may start: the latest ``limit`` items, grown back to a group boundary.

A window that starts anywhere is not always a history a model accepts: it may start inside a message
written as several items, with a tool result whose call was cut off, with a call whose reasoning
item was cut off, or with an approval response whose request was cut off. The rule
(``docs/writing-a-backend.md``, "Limited loads"): the window holds the latest ``limit`` items and
grows back, item by item, until it starts where a valid history may start:

- not inside a message (an item of ours with ``index`` ``k > 0`` right after index ``k - 1`` of the
  same message),
- not right after a ``reasoning`` item (the reasoning belongs to what follows it),
- with every result in the window having its call in the window, and every approval response its
  request (call ids, approval ids and image ids, read as agent-framework contents), when the store
  holds them at all.

So a window holds at least ``limit`` items, never fewer, and the fewest that are valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ._json import is_json_array, is_json_object
from .conversion import EXTENSION_KEY
from .conversion._format import continues_message, message_part
from .conversion._reader import item_contents

__all__ = ["references", "window_start"]

_PROVIDES: Final = {
    "function_call": ("call", "call_id"),
    "mcp_server_tool_call": ("call", "call_id"),
    "shell_tool_call": ("call", "call_id"),
    "computer_tool_call": ("call", "call_id"),
    "code_interpreter_tool_call": ("call", "call_id"),
    "search_tool_call": ("call", "call_id"),
    "image_generation_tool_call": ("image", "image_id"),
    "function_approval_request": ("approval", "id"),
}
"""Content type → (namespace, field) of the id it introduces."""

_NEEDS: Final = {
    "function_result": ("call", "call_id"),
    "mcp_server_tool_result": ("call", "call_id"),
    "shell_tool_result": ("call", "call_id"),
    "computer_tool_result": ("call", "call_id"),
    "code_interpreter_tool_result": ("call", "call_id"),
    "search_tool_result": ("call", "call_id"),
    "image_generation_tool_result": ("image", "image_id"),
    "function_approval_response": ("approval", "id"),
}
"""Content type → (namespace, field) of the id it refers back to."""

_PLAIN_TYPES: Final = frozenset({"message", "output_message"})
"""Item types that carry no call or approval unless their extension says so."""

Reference = tuple[str, str]


def _extension(item: dict[str, Any]) -> dict[str, Any] | None:
    extension = item.get(EXTENSION_KEY)
    if is_json_object(extension) and is_json_object(extension.get("message")):
        return extension
    return None


def references(item: dict[str, Any]) -> tuple[set[Reference], set[Reference]]:
    """What the item introduces (calls, approval requests) and what it refers back to (results, responses)."""
    provides: set[Reference] = set()
    needs: set[Reference] = set()
    if item.get("type") in _PLAIN_TYPES:
        extension = _extension(item)
        entries = extension.get("contents") if extension is not None else None
        if not is_json_array(entries) or not any(
            is_json_object(e) and (e.get("type") in _PROVIDES or e.get("type") in _NEEDS) for e in entries
        ):
            return provides, needs
    for content in item_contents(item):
        kind = str(content.get("type"))
        if (rule := _PROVIDES.get(kind)) is not None:
            if isinstance(value := content.get(rule[1]), str) and value:
                provides.add((rule[0], value))
        elif (rule := _NEEDS.get(kind)) is not None and isinstance(value := content.get(rule[1]), str) and value:
            needs.add((rule[0], value))
    return provides, needs


def _continues(before: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether no window may start at ``item`` when ``before`` precedes it."""
    return before.get("type") == "reasoning" or continues_message(message_part(before), message_part(item))


def window_start(items: Sequence[dict[str, Any]], limit: int, *, complete: bool) -> int | None:
    """Index in ``items`` (the latest items of a chain) where the window of at least ``limit`` starts.

    ``complete`` says ``items`` is the whole chain. ``None`` when the window starts before
    ``items[0]``: load more and ask again. Reads only the items of the window.
    """
    count = len(items)
    latest_start = count - limit
    if latest_start < 0:
        return 0 if complete else None
    provided: set[Reference] = set()
    pending: set[Reference] = set()
    for index in range(count - 1, -1, -1):
        item = items[index]
        introduces, refers = references(item)
        if introduces:
            provided |= introduces
            pending -= introduces
        if refers:
            pending |= refers - provided
        if index <= latest_start and not pending:
            if index == 0:  # nothing loaded says what precedes items[0]: the whole chain, or load more
                return 0 if complete else None
            if not _continues(items[index - 1], item):
                return index
    return 0 if complete else None
