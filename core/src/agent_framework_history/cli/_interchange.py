"""The JSONL interchange format of ``af-history export`` / ``import``.

Line 1 is a header, every further line one item with the key of its session::

    {"format": "agent-framework-history", "version": 1}
    {"session": {"session_id": "s1", "user": null, "chat": null}, "item": {"type": "message", "id": "msg_1", ...}}

Items of a session appear in history order. Importing appends them with ``HistoryStore.append``,
which skips ids a session already holds, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Final, TextIO

from .._base import check_items
from .._errors import InterchangeError
from .._json import dumps_item, is_json_object, loads_json
from .._keys import SessionKey
from .._nonfinite import stored_form
from .._store import HistoryStore, Item
from ._batches import append_in_batches
from ._stores import key_json

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "HEADER",
    "ImportResult",
    "InterchangeError",
    "Record",
    "decode_lines",
    "import_records",
    "read_records",
    "write_header",
    "write_session",
]

FORMAT: Final = "agent-framework-history"
"""The ``format`` value of the header line."""

FORMAT_VERSION: Final = 1
"""The version this library writes and the highest it reads."""

HEADER: Final = {"format": FORMAT, "version": FORMAT_VERSION}


@dataclass(frozen=True, slots=True)
class Record:
    key: SessionKey
    item: Item


@dataclass(slots=True)
class ImportResult:
    """What one import did: sessions touched, item records read, items newly stored."""

    sessions: int = 0
    read: int = 0
    stored: int = 0


def write_header(out: TextIO) -> None:
    out.write(json.dumps(HEADER) + "\n")


def _utf8(line: str, key: SessionKey, item: Item) -> str:
    """``line``, after making sure it is valid UTF-8 (a lone surrogate would write invalid bytes)."""
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InterchangeError(
                f"Cannot export item {item.get('id')!r} of session {key.session_id!r} (user={key.user!r}, "
                f"chat={key.chat!r}): it holds a lone surrogate {line[exc.start]!r}, which UTF-8 cannot encode. "
                "Fix or delete that item in the store, then export again."
            ) from None
    return line


def write_session(out: TextIO, key: SessionKey, items: Sequence[Item]) -> None:
    """Write one session's items as interchange lines; ``InterchangeError`` for text UTF-8 cannot encode."""
    session = json.dumps(key_json(key), ensure_ascii=False, separators=(",", ":"))
    for item in items:
        out.write(_utf8(f'{{"session":{session},"item":{dumps_item(stored_form(item))}}}\n', key, item))


def _check_header(line: str | None, where: str) -> None:
    if line is None or not line.strip():
        raise InterchangeError(f"{where} is empty; an export starts with the header line {json.dumps(HEADER)}.")
    try:
        header: Any = loads_json(line)
    except ValueError as exc:
        raise InterchangeError(f"{where}, line 1: the header is not JSON ({exc}).") from exc
    if not is_json_object(header) or header.get("format") != FORMAT:
        raise InterchangeError(
            f"{where}, line 1: not an agent-framework-history export (expected the header {json.dumps(HEADER)})."
        )
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InterchangeError(f"{where}, line 1: the header's version must be a positive integer, got {version!r}.")
    if version > FORMAT_VERSION:
        raise InterchangeError(
            f"{where} uses interchange format version {version}; this agent-framework-history reads up to "
            f"version {FORMAT_VERSION}. Upgrade agent-framework-history to import it."
        )


def _parse(line: str, number: int, where: str) -> Record:
    try:
        record: Any = loads_json(line)
    except ValueError as exc:
        raise InterchangeError(f"{where}, line {number}: not valid JSON ({exc}).") from exc
    if not is_json_object(record) or set(record) != {"session", "item"}:
        raise InterchangeError(f"{where}, line {number}: expected an object with the keys 'session' and 'item'.")
    session = record["session"]
    if not is_json_object(session) or not set(session) <= {"session_id", "user", "chat"}:
        raise InterchangeError(
            f"{where}, line {number}: 'session' must be an object with 'session_id' and optional 'user' / 'chat'."
        )
    try:
        session_id: Any = session.get("session_id")
        key = SessionKey(session_id, user=session.get("user"), chat=session.get("chat"))
        (item,) = check_items([record["item"]])
    except ValueError as exc:
        raise InterchangeError(f"{where}, line {number}: {exc}") from exc
    return Record(key, item)


def decode_lines(lines: Iterable[bytes], where: str) -> Iterator[str]:
    """Each line decoded from UTF-8, or :class:`InterchangeError` naming the line and byte that is not UTF-8."""
    for number, raw in enumerate(lines, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InterchangeError(
                f"{where}, line {number}: not UTF-8 text ({exc.reason} at byte {exc.start} of the line); "
                "an export is UTF-8 JSON Lines, as af-history export writes it."
            ) from None


def read_records(lines: Iterable[str], where: str) -> Iterator[Record]:
    """Parse an interchange file's lines (header first), raising :class:`InterchangeError` on the first bad one."""
    iterator = iter(lines)
    _check_header(next(iterator, None), where)
    for number, line in enumerate(iterator, start=2):
        if line.strip():
            yield _parse(line, number, where)


async def import_records(store: HistoryStore, records: Iterable[Record]) -> ImportResult:
    """Append records to ``store``, batching consecutive items of one session."""
    result = ImportResult()
    heads: dict[SessionKey, str | None] = {}

    def counted(run: Iterable[Record]) -> Iterator[Item]:
        for record in run:
            result.read += 1
            yield record.item

    for key, run in groupby(records, key=lambda record: record.key):
        stored, heads[key] = await append_in_batches(store, key, counted(run), head=heads.get(key))
        result.stored += stored
    result.sessions = len(heads)
    return result
