"""Content ↔ field dict, with fast paths for the common flat contents.

``content_fields`` equals ``Content.to_dict()`` without an empty ``additional_properties``;
``build_content`` equals ``Content.from_dict``. Both only skip work for contents whose fields are
all plain strings, numbers and booleans, and hand everything else to agent-framework itself.
"""

from __future__ import annotations

from typing import Any, Final, cast

from agent_framework import Content

__all__ = ["build_content", "content_fields"]

_SPECIAL: Final = frozenset(
    {"type", "annotations", "additional_properties", "raw_representation", "exception", "informational_only"}
)
_NESTED: Final = frozenset({"function_call", "screenshot", "inputs", "outputs", "items", "output"})
_SCALARS: Final = (str, int, float, bool)
_EXCEPTION_MARKER: Final = "FunctionInvocationError"
_INFORMATIONAL_TYPES: Final = frozenset({"function_call", "computer_tool_call"})


def _captured_fields() -> tuple[str, ...]:
    """The attributes ``Content.to_dict()`` writes, learned from agent-framework itself (so new ones count)."""
    probe = Content("text")
    for name in list(vars(probe)):
        if name not in _SPECIAL:
            object.__setattr__(probe, name, "probe")
    written = probe.to_dict()
    return tuple(name for name in vars(probe) if name in written and name not in _SPECIAL)


_PLAIN: Final = _captured_fields()


def _slow_fields(content: Content) -> dict[str, Any]:
    fields = content.to_dict()
    if not fields.get("additional_properties"):
        fields.pop("additional_properties", None)
    return fields


def _nested_list(values: list[object]) -> list[dict[str, Any]] | None:
    """A list of flat contents as ``to_dict`` nests it (``additional_properties`` kept), else ``None``."""
    nested: list[dict[str, Any]] = []
    for value in values:
        if type(value) is not Content:
            return None
        attributes = vars(value)
        if attributes.get("annotations") is not None or attributes.get("additional_properties"):
            return None
        fields = content_fields(value)
        if any(type(field) is list for field in fields.values()):
            return None
        fields["additional_properties"] = {}
        nested.append(fields)
    return nested


def content_fields(content: Content) -> dict[str, Any]:
    """``content.to_dict()``, without ``additional_properties`` when it is empty."""
    attributes = vars(content)
    if attributes.get("annotations") is not None or attributes.get("additional_properties"):
        return _slow_fields(content)
    kind = attributes["type"]
    fields: dict[str, Any] = {"type": kind}
    for name in _PLAIN:
        value = attributes.get(name)
        if value is None:
            continue
        if type(value) not in _SCALARS and (
            type(value) is not list or not (value := _nested_list(cast("list[object]", value)))  # checked there
        ):
            return _slow_fields(content)
        fields[name] = value
    if attributes.get("exception") is not None:
        fields["exception"] = _EXCEPTION_MARKER
    if kind in _INFORMATIONAL_TYPES and attributes.get("informational_only"):
        fields["informational_only"] = attributes["informational_only"]
    return fields


def build_content(fields: dict[str, Any]) -> Content:
    """``Content.from_dict(fields)``; flat fields go straight to the constructor."""
    kind = fields.get("type")
    if kind == "function_approval_response" or "data" in fields or not _NESTED.isdisjoint(fields):
        return Content.from_dict(fields)
    return Content(**fields)
