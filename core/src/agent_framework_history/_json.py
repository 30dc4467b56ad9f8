"""Copying, checking and encoding of item dicts (JSON values only).

:func:`clone_json` is the one validator every backend relies on (through ``check_items``): what it
accepts, every backend stores and gives back unchanged, so histories move between backends without
failing part-way. The rules are listed in ``docs/conversion.md`` ("What an item may hold").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn, TypeGuard, cast

__all__ = [
    "MAX_DEPTH",
    "MAX_INT",
    "MIN_INT",
    "NonFiniteError",
    "clone_item",
    "clone_json",
    "dumps_item",
    "is_json_array",
    "is_json_object",
    "kind_of",
    "loads_item",
    "loads_items",
    "loads_json",
]

MAX_DEPTH: Final = 200
"""Deepest nesting of objects and arrays an item may have (the item itself is level 1)."""

MIN_INT: Final = -(2**63)
"""Smallest integer an item may hold: the 64-bit range every JSON engine and database keeps exactly."""

MAX_INT: Final = 2**63 - 1
"""Largest integer an item may hold."""


class NonFiniteError(ValueError):
    """``clone_json`` met NaN or ±Infinity (``check_items`` stores those in their encoded form instead)."""


class _Refused(Exception):
    """A value no backend can keep; ``segments`` grow with the path (innermost first) as it unwinds."""

    def __init__(self, problem: str, *, nonfinite: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.nonfinite = nonfinite
        self.segments: list[str] = []


kind_of: Callable[[object], type[Any]] = type
"""``type``, for values typed ``Any`` (pyright reads ``type()`` of one as partly unknown); as fast as ``type``."""


def is_json_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether ``value`` is a JSON object: a dict, typed ``dict[str, Any]`` (JSON objects key by strings)."""
    return isinstance(value, dict)


def is_json_array(value: object) -> TypeGuard[list[Any]]:
    """Whether ``value`` is a JSON array: a list, read as ``list[Any]`` (its values are whatever JSON holds)."""
    return isinstance(value, list)


def _segment(key: str) -> str:
    """``.key`` for plain keys, ``['odd key']`` (escaped, so printable) for the rest."""
    return f".{key}" if key.isidentifier() else f"[{key!r}]"


def _surrogate(text: str, what: str) -> _Refused | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return _Refused(
            f"{what} holds a lone surrogate {text[exc.start]!r} at character {exc.start} (in {text[:60]!r}); "
            "UTF-8 cannot store it. Fix the text at its source, or decode it with errors='replace'."
        )
    return None


def _number(value: float | int) -> _Refused:
    if isinstance(value, float):
        return _Refused(
            f"is {value!r}, which JSON cannot store (only finite numbers are JSON); "
            "store it as a string or null instead.",
            nonfinite=True,
        )
    digits = len(str(abs(value))) if abs(value) < 10**4000 else "over 4000"
    return _Refused(
        f"is an integer of {digits} digits, outside the range every backend keeps exactly "
        f"({MIN_INT} to {MAX_INT}); store it as a string instead."
    )


def _clone(value: Any, depth: int) -> Any:
    """A checked copy; raises :class:`_Refused` (the location is added by the callers as it unwinds)."""
    kind = kind_of(value)
    if kind is str:  # the common cases first, by exact type
        if not value.isascii() and (refused := _surrogate(value, "is a string that")) is not None:
            raise refused
        return value
    if kind is dict:
        return _clone_dict(value, depth)
    if kind is bool or value is None:
        return value
    if kind is int:
        if not MIN_INT <= value <= MAX_INT:
            raise _number(value)
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _number(value)
        return value
    if kind is list or kind is tuple:
        return _clone_list(value, depth)
    return _clone_other(value, depth)


def _clone_other(value: Any, depth: int) -> Any:
    """Subclasses of the JSON types (an IntEnum, an OrderedDict, a str subclass) are JSON too, kept as they are."""
    if isinstance(value, str):
        if not value.isascii() and (refused := _surrogate(value, "is a string that")) is not None:
            raise refused
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise _number(value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _number(value)
        return value
    if isinstance(value, dict):  # keys of any type: _clone_dict checks them
        return _clone_dict(cast("dict[object, Any]", value), depth)
    if isinstance(value, (list, tuple)):
        return _clone_list(cast("Sequence[Any]", value), depth)
    raise _Refused(f"holds a {type(value).__name__} ({value!r:.80}); items may hold JSON values only.")


def _too_deep() -> _Refused:
    return _Refused(
        f"is nested more than {MAX_DEPTH} levels deep; items may nest objects and arrays at most {MAX_DEPTH} "
        "levels. Store deeply nested data as a JSON string instead."
    )


def _clone_dict(value: dict[object, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise _too_deep()
    copied: dict[str, Any] = {}
    for key, inner in value.items():
        if not isinstance(key, str):
            raise _Refused(f"has a non-string key {key!r:.80}; item keys must be strings.")
        try:
            if not key.isascii() and (refused := _surrogate(key, "is a key that")) is not None:
                raise refused
            copied[key] = _clone(inner, depth + 1)
        except _Refused as exc:
            exc.segments.append(_segment(key))
            raise
    return copied


def _clone_list(value: Sequence[Any], depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise _too_deep()
    result: list[Any] = []
    for index, inner in enumerate(value):
        try:
            result.append(_clone(inner, depth + 1))
        except _Refused as exc:
            exc.segments.append(f"[{index}]")
            raise
    return result


def clone_json(value: Any, path: str = "item") -> Any:
    """Deep-copy a JSON value (dict / list / str / number / bool / None), checking it can be stored anywhere.

    Tuples become lists, as JSON would make them. ``ValueError``, naming where the value sits
    (``items[0].content[1].text``), for: a value that is not JSON (a set, bytes, an object), a
    non-string key, NaN or an infinite float (JSON has no such numbers), an integer outside
    ``MIN_INT``..``MAX_INT``, a string or key holding a lone surrogate (not valid Unicode, so not
    UTF-8), or nesting deeper than :data:`MAX_DEPTH`. So every backend accepts exactly the same items.
    For NaN / ±Infinity the error is a :class:`NonFiniteError` (``check_items`` stores those items in
    the encoded form of :mod:`agent_framework_history._nonfinite` instead).
    """
    try:
        return _clone(value, 1)
    except _Refused as exc:
        where = path + "".join(reversed(exc.segments))
        error = NonFiniteError if exc.nonfinite else ValueError
        raise error(f"{where} {exc.problem}") from None


def clone_item(item: dict[str, Any]) -> dict[str, Any]:
    """Deep-copy one stored item."""
    result: dict[str, Any] = clone_json(item)
    return result


def dumps_item(item: dict[str, Any]) -> str:
    """Compact, UTF-8-friendly JSON text of an item (one line, no trailing newline)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value (only finite numbers are JSON)")


_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant)
"""Built once: ``json.loads`` with any keyword builds a new decoder per call, which costs more than a small item."""


def loads_json(text: str | bytes) -> Any:
    """Parse standard JSON; ``ValueError`` for bad JSON, ``NaN`` / ``Infinity`` and nesting too deep to parse."""
    try:
        if isinstance(text, str):
            return _DECODER.decode(text)
        return json.loads(text, parse_constant=_no_constant)  # bytes: json.loads detects their encoding
    except RecursionError:
        raise ValueError(
            f"the JSON is nested too deeply to parse (thousands of levels); items nest at most {MAX_DEPTH} levels"
        ) from None


def loads_item(text: str | bytes) -> dict[str, Any]:
    """Parse an item; raises ``ValueError`` when the text is not a JSON object (or nests too deeply to parse)."""
    value = loads_json(text)
    if not is_json_object(value):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def loads_items(texts: Sequence[object]) -> list[dict[str, Any]]:
    """Parse many stored items at once, as :func:`loads_item` would one by one, faster.

    A store's ``load`` hands back thousands of items; this runs the JSON scanner on each text
    directly. ``ValueError`` names the first text (by index) that is not exactly one JSON object.
    """
    # The scanner is set in JSONDecoder.__init__ and missing from typeshed's JSONDecoder, hence getattr:
    scan: Callable[[object, int], tuple[Any, int]] = getattr(_DECODER, "scan_once")  # noqa: B009
    items: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        try:
            value, end = scan(text, 0)
            if type(value) is dict and isinstance(text, str) and end == len(text):
                items.append(cast("dict[str, Any]", value))  # the scanner's objects key by strings
                continue
        except (StopIteration, TypeError, ValueError, RecursionError):
            pass
        try:  # not plain: parse it the slow way, which tells what is wrong (or accepts surrounding spaces)
            if not isinstance(text, str):  # a store keeps text; bytes or numbers in its place are damage
                raise ValueError(f"expected JSON text, found {type(text).__name__}")
            items.append(loads_item(text))
        except ValueError as exc:
            raise ValueError(f"text {index}: {exc}") from None
    return items
