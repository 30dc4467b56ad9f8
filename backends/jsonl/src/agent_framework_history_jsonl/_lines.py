"""Turning the bytes of a session file into items, and naming the lines that are not items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent_framework_history import Item, loads_item

__all__ = ["LineProblem", "Parsed", "parse_item", "parse_region"]

ProblemKind = Literal["torn", "corrupt"]


@dataclass(frozen=True, slots=True)
class LineProblem:
    """One line of a session file that is not a complete stored item.

    ``kind`` is ``"torn"`` for a last line without its newline (a write cut short by a crash),
    ``"corrupt"`` for a complete line that is not an item. ``line`` is 1-based; ``offset`` and
    ``length`` are in bytes (``length`` without the newline).
    """

    line: int
    offset: int
    length: int
    kind: ProblemKind
    reason: str
    recoverable: bool = False
    """For a torn line: the text is a whole item that only lacks its newline, so a repair keeps it."""


def parse_item(raw: bytes) -> Item:
    """One line's item; ``ValueError`` saying why when the line is not one."""
    try:
        item = loads_item(raw)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc})") from None
    item_id = item.get("id")
    item_type = item.get("type")
    if not isinstance(item_id, str) or not item_id or not isinstance(item_type, str) or not item_type:
        raise ValueError("a JSON object without a string 'type' and 'id'")
    return item


@dataclass(slots=True)
class Parsed:
    """What a region of a file holds.

    ``items`` are the complete lines that parsed, with their byte offsets; ``end`` is the offset
    just past the last newline (where a repaired file ends); ``torn`` is set when the region does
    not end with a newline, and ``torn_item`` when that unterminated text is a whole item.
    """

    items: list[tuple[int, Item]] = field(default_factory=lambda: [])
    corrupt: list[LineProblem] = field(default_factory=lambda: [])
    torn: LineProblem | None = None
    torn_item: Item | None = None
    end: int = 0
    lines: int = 0
    """Newline-terminated lines in the region."""


def parse_region(data: bytes, base: int = 0, first_line: int = 1) -> Parsed:
    """Parse ``data``, which starts at a line boundary found at byte ``base`` of the file.

    Blank lines are passed over. ``first_line`` is the line number of the region's first line.
    """
    parsed = Parsed(end=base)
    pieces = data.split(b"\n")
    tail = pieces.pop()  # after the last newline: b"" when the region ends cleanly
    offset = base
    line = first_line
    for piece in pieces:
        if piece.strip():
            try:
                parsed.items.append((offset, parse_item(piece)))
            except ValueError as exc:
                parsed.corrupt.append(LineProblem(line, offset, len(piece), "corrupt", str(exc)))
        offset += len(piece) + 1
        line += 1
    parsed.end = offset
    parsed.lines = line - first_line
    if tail:
        try:
            parsed.torn_item = parse_item(tail)
        except ValueError:
            reason = "the last line has no newline and is cut short (a write interrupted by a crash)"
        else:
            reason = "the last line has no newline, but holds a whole item"
        parsed.torn = LineProblem(line, offset, len(tail), "torn", reason, recoverable=parsed.torn_item is not None)
    return parsed
