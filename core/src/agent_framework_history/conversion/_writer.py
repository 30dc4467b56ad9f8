"""``to_items``: messages → Responses items, each with the extension key that makes it exact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import Content, Message

from .._json import is_json_object
from ._contents import content_fields
from ._fields import residual
from ._format import EXTENSION_KEY, MESSAGE_ROLES, UNCONVERTED_KEY
from ._ids import IdAllocator, item_id
from ._items import WRITERS, read_natural
from ._parts import PART_CONTENT_TYPES, read_part, write_part

__all__ = ["to_items"]


def _entry(kind: str, fields: dict[str, Any], base: dict[str, Any] | None, slot: int) -> tuple[dict[str, Any], bool]:
    """The ``contents`` entry of one content, and whether the natural reading alone is exact."""
    if base is not None and base.get("type") == kind:
        diff = residual(fields, base)
        entry: dict[str, Any] = {"type": kind, "slot": slot}
        if diff:
            entry["fields"] = diff
        return entry, not diff
    rest = {key: value for key, value in fields.items() if key != "type"}
    entry = {"type": kind}
    if rest:
        entry["fields"] = rest
    return entry, False


_STAND_IN_ID = "\x00"
_OTHER_STAND_IN_ID = "\x01"


def _natural(item: dict[str, Any]) -> list[dict[str, Any] | None]:
    try:
        return read_natural(item)
    except (KeyError, TypeError, ValueError):  # e.g. a result without a screenshot: its fields say it all
        return []


def _natural_part(part: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return read_part(part)
    except (KeyError, TypeError, ValueError):
        return None


class _MessageWriter:
    """Builds the items of one message."""

    __slots__ = ("base", "entries", "exact", "header", "items", "parts", "role")

    def __init__(self, message: Message, base: str) -> None:
        self.base = base
        self.role = message.role
        self.header: dict[str, Any] = {"role": message.role, "message_id": message.message_id}
        if message.author_name is not None:
            self.header["author_name"] = message.author_name
        if message.additional_properties:
            self.header["additional_properties"] = dict(message.additional_properties)
        self.items: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] | None = None
        self.entries: list[dict[str, Any]] = []
        self.exact = True

    def _emit(self, item: dict[str, Any], entries: list[dict[str, Any]], exact: bool) -> None:
        index = len(self.items)
        header = self.header if index == 0 else {"role": self.role, "message_id": self.header["message_id"]}
        extension: dict[str, Any] = {"message": header, "index": index}
        if not exact:
            extension["contents"] = entries
        item[EXTENSION_KEY] = extension
        self.items.append(item)

    def _open_message_item(self) -> list[dict[str, Any]]:
        if self.parts is None:
            self.parts = []
            self.entries = []
            self.exact = True
        return self.parts

    def close_message_item(self) -> None:
        if self.parts is None:
            return
        item = {
            "type": "message",
            "id": item_id(self.base, len(self.items)),
            "role": self.role if self.role in MESSAGE_ROLES else "unknown",
            "status": "completed",
            "content": self.parts,
        }
        self._emit(item, self.entries, self.exact)
        self.parts = None

    def add(self, content: Content) -> None:
        fields = content_fields(content)
        kind = fields["type"]
        writer = WRITERS.get(kind)
        if writer is None:
            parts = self._open_message_item()
            if kind in PART_CONTENT_TYPES:
                part = write_part(fields, self.role)
                entry, exact = _entry(kind, fields, _natural_part(part), len(parts))
                parts.append(part)  # a part read back as another type stays for other readers
            else:  # EXTRA_CONTENT_TYPES, and any content type added later: fields only
                entry, exact = _entry(kind, fields, None, 0)
            self.entries.append(entry)
            self.exact = self.exact and exact
            return
        self.close_message_item()
        item = writer(fields)
        # Read with a stand-in id, so no content field depends on the item id: a store may replace it.
        natural = _natural({**item, "id": _STAND_IN_ID})
        item["id"] = item_id(self.base, len(self.items))
        entry, exact = _entry(kind, fields, natural[0] if natural else None, 0)
        if natural:
            # A field read from the id may match only by coincidence (the content holding the stand-in itself):
            # read with a second stand-in, and keep the entry that records more.
            other = _natural({**item, "id": _OTHER_STAND_IN_ID})
            if other and other[0] != natural[0]:
                second, second_exact = _entry(kind, fields, other[0], 0)
                if len(second.get("fields", ())) > len(entry.get("fields", ())):
                    natural, entry, exact = other, second, second_exact
        self._emit(item, [entry], exact and len(natural) == 1)

    def finish(self) -> list[dict[str, Any]]:
        self.close_message_item()
        if not self.items:  # a message without contents is still a message
            self._open_message_item()
            self.close_message_item()
        return self.items


def to_items(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Convert messages to Responses items, exactly (see ``docs/conversion.md``).

    Each message becomes one or more items: consecutive text / data / uri / hosted-file contents
    (and contents with no natural slot) share one ``message`` item, every other content gets its
    natural item (``function_call``, ``reasoning``, ``mcp_approval_request``…). Every item carries
    :data:`EXTENSION_KEY` with the message header and, where the natural fields are not exact, the
    rest. Item ids: the message id, then ``<message id>.1``, ``.2``… (see :class:`IdAllocator`).

    A placeholder message from ``to_messages(..., keep_unconverted=True)`` writes its item back as it was.
    Pure: no I/O, clock or randomness; the items may share nested values with the messages.
    """
    ids = IdAllocator()
    items: list[dict[str, Any]] = []
    for message in messages:
        kept = message.additional_properties.get(UNCONVERTED_KEY) if message.additional_properties else None
        if is_json_object(kept) and not message.contents:
            items.append(dict(kept))
            continue
        writer = _MessageWriter(message, ids.base(message))
        for content in message.contents:
            writer.add(content)
        items.extend(writer.finish())
    return items
