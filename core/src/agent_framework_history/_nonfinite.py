"""NaN and ±Infinity in items: how every backend stores them in plain JSON, and reads them back.

JSON has no such numbers, and PostgreSQL's ``jsonb`` refuses them, yet agent-framework keeps them in
messages. So the core writes them in a form every backend stores as it is (``docs/conversion.md``,
"Numbers JSON has not"): the number becomes the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``,
and the item gets one more top-level key, :data:`NONFINITE_KEY`, listing the paths of those strings
(each path a list of object keys and array indexes from the item's top). ``load`` turns the listed
strings back into floats and drops the key; strings that are not listed stay strings. Only items that
hold such a number carry the key, so reading every other item costs one dict lookup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from ._json import is_json_array, is_json_object

__all__ = ["NONFINITE_KEY", "check_marker", "decode_items", "encode_nonfinite", "stored_form"]

NONFINITE_KEY: Final = "af_nonfinite"
"""Top-level item key listing where the item held NaN / ±Infinity (see the module docstring)."""

_WORDS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Path = list[str | int]


def _word(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _encode(value: Any, path: Path, found: list[Path], depth: int) -> Any:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        found.append(list(path))
        return _word(value)
    if depth > 250:  # far past MAX_DEPTH: left as it is, for clone_json to refuse with its own message
        return value
    if isinstance(value, dict):  # keys unchecked: clone_json refuses what is not a string
        copied: dict[Any, Any] = {}
        for key, inner in cast("Mapping[Any, Any]", value).items():
            path.append(key)
            copied[key] = _encode(inner, path, found, depth + 1)
            path.pop()
        return copied
    if isinstance(value, (list, tuple)):
        result: list[Any] = []
        for index, inner in enumerate(cast("Sequence[Any]", value)):
            path.append(index)
            result.append(_encode(inner, path, found, depth + 1))
            path.pop()
        return result
    return value


def encode_nonfinite(item: dict[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    """A copy of ``item`` with every NaN / ±Infinity replaced by its word, and the paths replaced.

    Only the containers are copied; the caller validates the copy (``clone_json``) and adds the paths
    under :data:`NONFINITE_KEY`.
    """
    found: list[Path] = []
    encoded: dict[str, Any] = _encode(item, [], found, 1)
    return encoded, found


_MISSING: Final = object()


def _step(value: Any, segment: Any) -> Any:
    """``value[segment]`` for an object key or an array index that exists, else :data:`_MISSING`."""
    if is_json_object(value) and isinstance(segment, str):
        return value.get(segment, _MISSING)
    if is_json_array(value) and type(segment) is int and 0 <= segment < len(value):
        return value[segment]
    return _MISSING


def _marker_problem(item: dict[str, Any], marker: Any) -> str | None:
    if not is_json_array(marker) or not marker:
        return "must be a non-empty list of paths"
    for number, path in enumerate(marker):
        if not is_json_array(path) or not path:
            return f"path {number} must be a non-empty list of keys and indexes, got {path!r:.80}"
        if path[0] == NONFINITE_KEY:
            return f"path {number} points into the key itself"
        value: Any = item
        for segment in path:
            value = _step(value, segment)
            if value is _MISSING:
                return f"path {number} ({path!r:.80}) does not lead to a value of the item"
        if not isinstance(value, str) or value not in _WORDS:
            return f"path {number} ({path!r:.80}) leads to {value!r:.40}, not to 'NaN', 'Infinity' or '-Infinity'"
    return None


def check_marker(item: dict[str, Any], where: str) -> None:
    """``ValueError`` unless the item's :data:`NONFINITE_KEY` (when present) lists valid paths."""
    if NONFINITE_KEY not in item:
        return
    problem = _marker_problem(item, item[NONFINITE_KEY])
    if problem is not None:
        raise ValueError(
            f"{where}.{NONFINITE_KEY} {problem}. The key is reserved: it lists where an item held NaN or "
            "±Infinity, as the store writes it; pass the numbers themselves instead."
        )


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    decoded = {key: value for key, value in item.items() if key != NONFINITE_KEY}
    paths = item[NONFINITE_KEY]
    if not is_json_array(paths):
        return decoded
    for path in paths:
        if not is_json_array(path) or not path:
            continue
        parent: Any = decoded
        for segment in path[:-1]:
            try:
                child = parent[segment]
            except (KeyError, IndexError, TypeError):
                break
            if is_json_object(child):
                child = dict(child)
            elif is_json_array(child):
                child = list(child)
            else:
                break
            parent[segment] = child  # copy on write: the stored item is never changed
            parent = child
        else:
            last = path[-1]
            try:
                word = parent[last]
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(word, str) and word in _WORDS:
                parent[last] = _WORDS[word]
    return decoded


def decode_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn the listed words of items carrying :data:`NONFINITE_KEY` back into numbers (in the list)."""
    for index, item in enumerate(items):
        if NONFINITE_KEY in item:
            items[index] = _decode(item)
    return items


def stored_form(item: dict[str, Any]) -> dict[str, Any]:
    """The form an item is stored in: ``item`` itself, or its encoded copy when it holds NaN / ±Infinity."""
    encoded, paths = encode_nonfinite(item)
    if not paths:
        return item
    existing = item.get(NONFINITE_KEY)
    encoded[NONFINITE_KEY] = [*(existing if isinstance(existing, list) else []), *paths]
    return encoded
