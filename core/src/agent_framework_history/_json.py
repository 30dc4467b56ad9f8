"""Copying and encoding of item dicts (JSON values only)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["clone_item", "clone_json", "dumps_item", "loads_item"]

_SCALARS = (str, int, float, bool, type(None))


def clone_json(value: Any, path: str = "item") -> Any:
    """Deep-copy a JSON value (dict / list / str / number / bool / None).

    Tuples become lists, as JSON would make them; anything else raises ``ValueError``
    naming where it sits, so every backend accepts exactly the same items.
    """
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and value != value:
            raise ValueError(f"{path} is NaN, which JSON cannot store.")
        return value
    if isinstance(value, dict):
        copied: dict[str, Any] = {}
        for key, inner in value.items():  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(key, str):
                raise ValueError(f"{path} has a non-string key {key!r}; item keys must be strings.")
            copied[key] = clone_json(inner, f"{path}.{key}")
        return copied
    if isinstance(value, (list, tuple)):
        return [clone_json(inner, f"{path}[{i}]") for i, inner in enumerate(value)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    raise ValueError(f"{path} holds a {type(value).__name__} ({value!r:.80}); items may hold JSON values only.")


def clone_item(item: dict[str, Any]) -> dict[str, Any]:
    """Deep-copy one stored item."""
    result: dict[str, Any] = clone_json(item)
    return result


def dumps_item(item: dict[str, Any]) -> str:
    """Compact, UTF-8-friendly JSON text of an item (one line, no trailing newline)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads_item(text: str | bytes) -> dict[str, Any]:
    """Parse an item; raises ``ValueError`` when the text is not a JSON object."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    result: dict[str, Any] = value
    return result
