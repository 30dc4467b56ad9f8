"""Text-message conversion (the complete rules for every content type live in later modules)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

from agent_framework import Content, Message

__all__ = ["EXTENSION_KEY", "to_items", "to_messages"]

EXTENSION_KEY: Final = "agent_framework"
"""Item key holding what a Responses item has no natural slot for."""

_OUTPUT_ROLES: Final = frozenset({"assistant"})


def _derived_id(index: int, message: Message) -> str:
    payload = json.dumps([index, message.to_dict()], sort_keys=True, ensure_ascii=False, default=str)
    return "msg_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def to_items(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Convert messages to Responses items, one ``message`` item per message."""
    items: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        part_type = "output_text" if message.role in _OUTPUT_ROLES else "input_text"
        parts: list[dict[str, Any]] = []
        extra: list[dict[str, Any]] = []
        for position, content in enumerate(message.contents):
            if content.type == "text":
                parts.append({"type": part_type, "text": content.text or ""})
            else:
                extra.append({"index": position, "content": content.to_dict()})
        item: dict[str, Any] = {
            "type": "message",
            "id": message.message_id or _derived_id(index, message),
            "role": message.role,
            "status": "completed",
            "content": parts,
        }
        ext: dict[str, Any] = {}
        if message.message_id is None:
            ext["message_id"] = None
        if message.author_name is not None:
            ext["author_name"] = message.author_name
        if message.additional_properties:
            ext["additional_properties"] = message.additional_properties
        if extra:
            ext["contents"] = extra
        if ext:
            item[EXTENSION_KEY] = ext
        items.append(item)
    return items


def to_messages(items: Sequence[dict[str, Any]]) -> list[Message]:
    """Convert Responses ``message`` items back to messages."""
    messages: list[Message] = []
    for item in items:
        if item.get("type") != "message":
            continue
        ext: dict[str, Any] = item.get(EXTENSION_KEY) or {}
        contents: list[Content] = [
            Content.from_text(part.get("text", "")) for part in item.get("content", []) if "text" in part
        ]
        for extra in ext.get("contents", []):
            contents.insert(extra["index"], Content.from_dict(extra["content"]))
        message_id = ext["message_id"] if "message_id" in ext else item.get("id")
        messages.append(
            Message(
                item.get("role", "user"),
                contents,
                author_name=ext.get("author_name"),
                message_id=message_id,
                additional_properties=ext.get("additional_properties"),
            )
        )
    return messages
