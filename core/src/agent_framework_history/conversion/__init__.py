"""Conversion between agent-framework ``Message``s and Responses-API items.

``to_items`` and ``to_messages`` are pure: no I/O, no clock, no random ids. The record format
(item types, the :data:`EXTENSION_KEY` object, ids) is described in ``docs/conversion.md``.
"""

from __future__ import annotations

from ._format import EXTENSION_KEY, OUTPUT_ITEM_TYPES, UNCONVERTED_KEY
from ._items import EXTRA_CONTENT_TYPES, READERS, WRITERS
from ._parts import PART_CONTENT_TYPES
from ._reader import ReadResult, SkippedItem, read_items, to_messages
from ._writer import to_items

CONVERTED_ITEM_TYPES = frozenset(READERS)
"""Item types with a conversion rule for items that do not carry :data:`EXTENSION_KEY`."""

ITEM_CONTENT_TYPES = frozenset(WRITERS)
"""Content types written as an item of their own."""

__all__ = [
    "CONVERTED_ITEM_TYPES",
    "EXTENSION_KEY",
    "EXTRA_CONTENT_TYPES",
    "ITEM_CONTENT_TYPES",
    "OUTPUT_ITEM_TYPES",
    "PART_CONTENT_TYPES",
    "UNCONVERTED_KEY",
    "ReadResult",
    "SkippedItem",
    "read_items",
    "to_items",
    "to_messages",
]
