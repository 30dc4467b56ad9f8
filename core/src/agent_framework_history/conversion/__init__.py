"""Conversion between agent-framework ``Message``s and Responses-API items.

``to_items`` and ``to_messages`` are pure: no I/O, no clock, no random ids.
"""

from __future__ import annotations

from ._convert import EXTENSION_KEY, to_items, to_messages

__all__ = ["EXTENSION_KEY", "to_items", "to_messages"]
