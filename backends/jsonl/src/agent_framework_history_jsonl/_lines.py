"""Turning the bytes of a session file into records (items and turn markers), and naming the other lines.

A line is an item (a JSON object with string ``type`` and ``id``) or a turn marker,
``{"af_turn":{"head":"turn_…","parent":"turn_…"}}`` (``parent`` ``null`` for a root turn). A marker
closes a turn: the turn's items are the item lines since the previous marker (or the file's start).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from agent_framework_history.backend import Item, loads_item

__all__ = ["MARKER_KEY", "LineProblem", "Parsed", "Record", "TurnMarker", "dumps_marker", "parse_line", "parse_region"]

MARKER_KEY: Final = "af_turn"
_PLAIN_MARKER: Final = re.compile(rb'\{"af_turn":\{"head":"([A-Za-z0-9_-]+)","parent":(?:"([A-Za-z0-9_-]+)"|null)\}\}')
"""A marker as this library writes it, read without the JSON parser (a third of a session's lines)."""


@dataclass(frozen=True, slots=True)
class TurnMarker:
    """The line that closes a turn: its head and its parent's (``None`` for a root)."""

    head: str
    parent: str | None


Record = Item | TurnMarker


def dumps_marker(head: str, parent: str | None) -> str:
    """The line (without its newline) that closes turn ``head``."""
    return json.dumps({MARKER_KEY: {"head": head, "parent": parent}}, ensure_ascii=False, separators=(",", ":"))


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


def parse_line(raw: bytes) -> Record:
    """One line's item or turn marker; ``ValueError`` saying why when the line is neither."""
    plain = _PLAIN_MARKER.fullmatch(raw)
    if plain is not None:
        parent = plain.group(2)
        return TurnMarker(plain.group(1).decode("ascii"), parent.decode("ascii") if parent is not None else None)
    try:
        value = loads_item(raw)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc})") from None
    item_id = value.get("id")
    item_type = value.get("type")
    if isinstance(item_id, str) and item_id and isinstance(item_type, str) and item_type:
        return value
    if len(value) == 1 and MARKER_KEY in value:
        turn = value[MARKER_KEY]
        fields = cast("dict[str, Any]", turn) if isinstance(turn, dict) else {}  # a JSON object keys by strings
        head = fields.get("head")
        parent = fields.get("parent")
        if isinstance(head, str) and head and (parent is None or (isinstance(parent, str) and parent)):
            return TurnMarker(head, parent)
        raise ValueError(f"a {MARKER_KEY!r} turn marker without a string 'head' and a string or null 'parent'")
    raise ValueError(f"a JSON object without a string 'type' and 'id' (nor a {MARKER_KEY!r} turn marker)")


@dataclass(slots=True)
class Parsed:
    """What a region of a file holds.

    ``records`` are the complete lines that parsed (items and turn markers), with their byte
    offsets; ``end`` is the offset just past the last newline (where a repaired file ends);
    ``torn`` is set when the region does not end with a newline, and ``torn_record`` when that
    unterminated text is a whole item or marker.
    """

    records: list[tuple[int, Record]] = field(default_factory=lambda: [])
    corrupt: list[LineProblem] = field(default_factory=lambda: [])
    torn: LineProblem | None = None
    torn_record: Record | None = None
    end: int = 0
    lines: int = 0
    """Newline-terminated lines in the region."""

    @property
    def items(self) -> list[Item]:
        """The complete item lines, in file order (turn markers left out)."""
        return [record for _, record in self.records if not isinstance(record, TurnMarker)]

    def all_records(self) -> list[Record]:
        """Every record, a whole unterminated last one included."""
        found = [record for _, record in self.records]
        if self.torn_record is not None:
            found.append(self.torn_record)
        return found


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
                parsed.records.append((offset, parse_line(piece)))
            except ValueError as exc:
                parsed.corrupt.append(LineProblem(line, offset, len(piece), "corrupt", str(exc)))
        offset += len(piece) + 1
        line += 1
    parsed.end = offset
    parsed.lines = line - first_line
    if tail:
        try:
            parsed.torn_record = parse_line(tail)
        except ValueError:
            reason = "the last line has no newline and is cut short (a write interrupted by a crash)"
        else:
            reason = "the last line has no newline, but holds a whole record"
        parsed.torn = LineProblem(line, offset, len(tail), "torn", reason, recoverable=parsed.torn_record is not None)
    return parsed
