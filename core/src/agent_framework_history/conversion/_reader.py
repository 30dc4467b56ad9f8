"""``to_messages``: Responses items → messages, regrouped exactly; unknown and broken items reported."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from agent_framework import Content, Message

from .._json import is_json_object
from ._contents import build_content
from ._fields import merge
from ._format import EXTENSION_KEY, UNCONVERTED_KEY
from ._items import READERS, REQUIRED_FIELDS, ApprovalRequests, read_natural

__all__ = ["ReadResult", "SkippedItem", "item_contents", "read_items", "to_messages"]

logger = logging.getLogger("agent_framework_history.conversion")


@dataclass(frozen=True)
class SkippedItem:
    """An item left out of the messages: no conversion rule for its type, or malformed."""

    index: int
    """Position in the items given."""
    type: str
    """The item's ``type`` (``"<missing>"`` when it has none)."""
    reason: str
    """Why it was left out."""
    malformed: bool
    """True when the item is broken (a required field missing or wrong); False for a type without a rule."""


@dataclass
class ReadResult:
    """What :func:`read_items` made of a list of items."""

    messages: list[Message] = field(default_factory=lambda: [])
    skipped: list[SkippedItem] = field(default_factory=lambda: [])


class _Unconverted(Exception):
    """An item type without a rule."""


class _Malformed(ValueError):
    """An item that breaks the rules of its type (the message says how)."""


def _contents_from_entries(item: dict[str, Any], entries: Any) -> list[Content]:
    return [build_content(fields) for fields in _entry_dicts(item, entries)]


def _entry_dicts(item: dict[str, Any], entries: Any) -> list[dict[str, Any]]:
    """Each extension entry's content fields: its stored fields over the item's natural content in its slot."""
    natural: list[dict[str, Any] | None] | None = None
    read: list[dict[str, Any]] = []
    for entry in entries:
        kind = entry["type"]
        slot: int | None = entry.get("slot")
        base: dict[str, Any] | None = None
        if slot is not None:
            if natural is None:
                natural = read_natural(item)
            base = natural[slot]
        if base is None or base.get("type") != kind:
            base = {"type": kind}
        merged = merge(base, entry.get("fields") or {})
        merged["type"] = kind
        read.append(merged)
    return read


def item_contents(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The content fields (``Content.to_dict()`` shape) one item reads as, without building ``Content``s.

    What :func:`read_items` makes of the item alone (for an item of ours, its share of its message);
    ``[]`` for an item without a rule or a broken one. Cheap enough to look at ids and call ids.
    """
    try:
        extension = item.get(EXTENSION_KEY)
        if is_json_object(extension) and is_json_object(extension.get("message")):
            entries = extension.get("contents")
            if entries is not None:
                return _entry_dicts(item, entries)
            return [fields for fields in read_natural(item) if fields is not None]
        rule = READERS.get(item["type"])
        return [] if rule is None else rule[1](item, None)
    except Exception:  # a broken item reads as nothing here, as read_items leaves it out
        return []


def _read_ours(item: dict[str, Any], extension: dict[str, Any]) -> list[Content]:
    entries = extension.get("contents")
    if entries is not None:
        return _contents_from_entries(item, entries)
    contents: list[Content] = []
    for fields in read_natural(item):
        if fields is None:
            raise ValueError("a message part has no conversion rule")
        contents.append(build_content(fields))
    return contents


def _read_foreign(item: dict[str, Any], kind: str, requests: ApprovalRequests) -> Message:
    rule = READERS.get(kind)
    if rule is None:
        raise _Unconverted(kind)
    role, reader = rule
    missing = sorted(REQUIRED_FIELDS[kind].difference(item))
    if missing:
        raise _Malformed(f"missing required field(s) {', '.join(missing)}")
    contents = [build_content(fields) for fields in reader(item, requests)]
    item_id = item.get("id")
    return Message(
        role if role is not None else item["role"],
        contents,
        message_id=item_id if isinstance(item_id, str) and item_id else None,
    )


def _placeholder(item: Any) -> Message:
    item_id = item.get("id") if is_json_object(item) else None
    return Message(
        "assistant",
        [],
        message_id=item_id if isinstance(item_id, str) and item_id else None,
        additional_properties={UNCONVERTED_KEY: item},
    )


def read_items(
    items: Sequence[dict[str, Any]], *, keep_unconverted: bool = False, approvals: ApprovalRequests | None = None
) -> ReadResult:
    """Convert items to messages and report what was left out; never raises for a bad item.

    Items written by :func:`to_items` (they carry :data:`EXTENSION_KEY`) regroup into their messages
    exactly. Any other item becomes one message, by the rules of the agent-framework hosting package.
    An item whose type has no rule, or that is malformed, is left out and listed in
    ``ReadResult.skipped``; with ``keep_unconverted=True`` it also becomes a placeholder message with
    no contents that holds the item whole, which :func:`to_items` writes back unchanged.

    ``approvals`` carries the approval requests (``mcp_approval_request`` items) read so far from one
    history to a later call reading what follows it: an approval response finds its request there,
    and the requests read now are added to it.
    """
    result = ReadResult()
    messages = result.messages
    requests: ApprovalRequests = {} if approvals is None else approvals
    current: Message | None = None
    current_index = -1
    for index, item in enumerate(cast("Sequence[object]", items)):  # untyped callers pass anything: checked here
        kind = item.get("type") if is_json_object(item) else None
        label = kind if isinstance(kind, str) and kind else "<missing>"
        try:
            if not is_json_object(item):
                raise TypeError(f"an item must be a dict, got {type(item).__name__}")
            if not isinstance(kind, str) or not kind:
                raise KeyError("type")
            extension = item.get(EXTENSION_KEY)
            header = extension.get("message") if is_json_object(extension) else None
            if is_json_object(extension) and is_json_object(header):
                position = extension.get("index", 0)
                if type(position) is not int or position < 0:
                    raise ValueError(f"{EXTENSION_KEY}.index must be a whole number, got {position!r}")
                if not isinstance(header.get("role"), str):
                    raise ValueError(f"{EXTENSION_KEY}.message.role must be a string, got {header.get('role')!r}")
                contents = _read_ours(item, extension)
                message_id = header.get("message_id")
                if (
                    position
                    and current is not None
                    and position == current_index + 1
                    and current.message_id == message_id
                    and current.role == header.get("role")
                ):
                    current.contents.extend(contents)
                    current_index = position
                    continue
                current = Message(
                    header["role"],
                    contents,
                    author_name=header.get("author_name"),
                    message_id=message_id,
                    additional_properties=header.get("additional_properties"),
                )
                current_index = position
                messages.append(current)
                continue
            current = None
            messages.append(_read_foreign(item, kind, requests))
        except _Unconverted:
            current = None
            result.skipped.append(SkippedItem(index, label, "no conversion rule for this item type", False))
            if keep_unconverted:
                messages.append(_placeholder(item))
        except Exception as exc:  # one broken item must never fail the load
            current = None
            if isinstance(exc, _Malformed):
                reason = str(exc)
            elif isinstance(exc, KeyError):
                reason = f"missing required field {exc.args[0]!r}" if exc.args else "missing required field"
            else:
                reason = f"{type(exc).__name__}: {exc}"
            result.skipped.append(SkippedItem(index, label, reason, True))
            if keep_unconverted:
                messages.append(_placeholder(item))
    return result


def to_messages(
    items: Sequence[dict[str, Any]], *, keep_unconverted: bool = False, approvals: ApprovalRequests | None = None
) -> list[Message]:
    """Convert Responses items back to messages (see :func:`read_items`).

    Logs (logger ``agent_framework_history.conversion``) one warning per item type without a rule,
    with how many items of it were left out, and one warning per malformed item naming its index,
    type and what is wrong. Nothing here raises for a bad item.
    """
    result = read_items(items, keep_unconverted=keep_unconverted, approvals=approvals)
    if result.skipped:
        _report(result.skipped)
    return result.messages


def _report(skipped: list[SkippedItem]) -> None:
    unconverted: dict[str, list[int]] = {}
    for entry in skipped:
        if entry.malformed:
            logger.warning(
                "History item %d (type %r) is malformed and was left out: %s.", entry.index, entry.type, entry.reason
            )
        else:
            unconverted.setdefault(entry.type, []).append(entry.index)
    for kind, indexes in unconverted.items():
        logger.warning(
            "History items of type %r have no conversion rule: %d left out of the messages (first at index %d); "
            "they stay in the store unchanged.",
            kind,
            len(indexes),
            indexes[0],
        )
