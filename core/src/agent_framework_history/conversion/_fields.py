"""Small helpers over content dicts (the shape ``Content.to_dict()`` produces)."""

from __future__ import annotations

import json
from typing import Any, Final

from .._json import is_json_object

__all__ = [
    "REFUSAL_PROPERTIES",
    "is_refusal",
    "json_text",
    "merge",
    "residual",
    "text_dict",
    "uri_dict",
]

REFUSAL_PROPERTIES: Final = {"core": {"model_output_kind": "refusal"}, "model_output_kind": "refusal"}
"""``additional_properties`` of a text content that is a model refusal (as agent-framework marks it)."""


def text_dict(text: str) -> dict[str, Any]:
    """The dict of ``Content.from_text(text)``, as a nested value (``items``, ``outputs``) serializes."""
    return {"type": "text", "text": text, "additional_properties": {}}


def uri_dict(uri: str, media_type: str | None = None, name: str | None = None) -> dict[str, Any]:
    """The fields of ``Content.from_uri(uri, media_type=..., name=...)``: ``data`` for a data URI, else ``uri``."""
    if uri.startswith("data:"):
        comma = uri.find(",")
        header = uri[5:comma] if comma >= 0 else uri[5:]
        fields: dict[str, Any] = {
            "type": "data",
            "uri": uri,
            "media_type": media_type or header.split(";")[0] or "text/plain",
        }
    else:
        fields = {"type": "uri", "uri": uri}
        if media_type is not None:
            fields["media_type"] = media_type
    if name is not None:
        fields["name"] = name
    return fields


def json_text(value: Any) -> str:
    """A string as it is, ``None`` as ``""``, anything else as JSON text (non-JSON values via ``str``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def is_refusal(properties: Any) -> bool:
    """Whether a text content's ``additional_properties`` mark it as a model refusal."""
    if not is_json_object(properties) or not properties:
        return False
    core = properties.get("core")
    kind = core.get("model_output_kind") if is_json_object(core) else None
    return (kind if kind is not None else properties.get("model_output_kind")) == "refusal"


def _same(left: Any, right: Any) -> bool:
    # ``True == 1`` and ``1 == 1.0`` in Python, but not once read back: compare the type too.
    return type(left) is type(right) and left == right


def residual(fields: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """What ``fields`` has that ``base`` does not reproduce exactly.

    A key of ``base`` missing from ``fields`` maps to ``None`` ("absent"), so that
    ``merge(base, residual(fields, base)) == fields`` for every dict without ``None`` values.
    """
    diff: dict[str, Any] = {}
    for key, value in fields.items():
        if key != "type" and not _same(base.get(key), value):
            diff[key] = value
    for key in base:
        if key != "type" and key not in fields:
            diff[key] = None
    return diff


def merge(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """``base`` overridden by ``diff``, without the keys ``diff`` marks absent (``None``)."""
    if not diff:
        return base
    merged = {**base, **diff}
    return {key: value for key, value in merged.items() if value is not None}
