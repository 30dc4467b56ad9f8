"""Names of the stored record format: the extension key, its fields, the item types we know."""

from __future__ import annotations

from typing import Any, Final, NamedTuple, cast

__all__ = [
    "EXTENSION_KEY",
    "MESSAGE_ROLES",
    "OUTPUT_ITEM_TYPES",
    "UNCONVERTED_KEY",
    "MessagePart",
    "continues_message",
    "message_part",
]

EXTENSION_KEY: Final = "agent_framework"
"""Item key holding what a Responses item has no natural slot for (see ``docs/conversion.md``).

Its value is an object: ``message`` (the message header: ``role``, ``message_id``, and on the
first item of a message ``author_name`` / ``additional_properties``), ``index`` (the item's
position within its message) and, when the natural reading of the item is not exact,
``contents`` (one entry per content: ``type``, optional ``slot``, optional ``fields``).
"""


class MessagePart(NamedTuple):
    """Which message an item of ours belongs to, and its place in it (from its :data:`EXTENSION_KEY` object)."""

    message_id: Any
    role: Any
    position: int


def message_part(item: dict[str, Any]) -> MessagePart | None:
    """The message ``item`` is a part of, when it carries our extension with a header; else ``None``."""
    extension = item.get(EXTENSION_KEY)
    if not isinstance(extension, dict):
        return None
    fields = cast(dict[str, Any], extension)
    header = fields.get("message")
    index = fields.get("index", 0)
    if not isinstance(header, dict) or type(index) is not int:
        return None
    message = cast(dict[str, Any], header)
    return MessagePart(message.get("message_id"), message.get("role"), index)


def continues_message(previous: MessagePart | None, part: MessagePart | None) -> bool:
    """Whether ``part`` is the next item of the message ``previous`` is a part of (the reader joins them)."""
    return (
        previous is not None
        and part is not None
        and part.position > 0
        and part.position == previous.position + 1
        and part.message_id == previous.message_id
        and part.role == previous.role
    )


UNCONVERTED_KEY: Final = "agent_framework_history.item"
"""``Message.additional_properties`` key of a placeholder message holding an item kept whole."""

MESSAGE_ROLES: Final = frozenset(
    {"unknown", "user", "assistant", "system", "critic", "discriminator", "developer", "tool"}
)
"""Roles a Responses ``message`` item may carry (``MessageRole``); any other role is written as ``unknown``."""

OUTPUT_ITEM_TYPES: Final = (
    "output_message",
    "file_search_call",
    "function_call",
    "function_call_output",
    "web_search_call",
    "computer_call",
    "computer_call_output",
    "reasoning",
    "program",
    "program_output",
    "tool_search_call",
    "tool_search_output",
    "additional_tools",
    "compaction",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "custom_tool_call",
    "custom_tool_call_output",
    "message",
    "structured_outputs",
    "oauth_consent_request",
    "memory_search_call",
    "workflow_action",
    "a2a_preview_call",
    "a2a_preview_call_output",
    "bing_grounding_call",
    "bing_grounding_call_output",
    "sharepoint_grounding_preview_call",
    "sharepoint_grounding_preview_call_output",
    "azure_ai_search_call",
    "azure_ai_search_call_output",
    "bing_custom_search_preview_call",
    "bing_custom_search_preview_call_output",
    "openapi_call",
    "openapi_call_output",
    "browser_automation_preview_call",
    "browser_automation_preview_call_output",
    "fabric_dataagent_preview_call",
    "fabric_dataagent_preview_call_output",
    "azure_function_call",
    "azure_function_call_output",
)
"""The 51 ``OutputItemType`` values of ``azure-ai-agentserver-responses`` 2.x, in its order."""
