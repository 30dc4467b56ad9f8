"""Message content parts: text, refusal, images, files, screenshots ↔ contents."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from ._fields import REFUSAL_PROPERTIES, is_refusal, uri_dict

__all__ = ["PART_CONTENT_TYPES", "read_part", "write_part"]

PART_CONTENT_TYPES: Final = frozenset({"text", "data", "uri", "hosted_file"})
"""Content types written as a part of a ``message`` item."""


def write_part(fields: dict[str, Any], role: str) -> dict[str, Any]:
    """The ``message`` content part for one content of :data:`PART_CONTENT_TYPES`."""
    kind = fields["type"]
    if kind == "text":
        text = fields.get("text", "")
        if role != "assistant":
            return {"type": "input_text", "text": text}
        if is_refusal(fields.get("additional_properties")):
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "text": text}
    media_type = fields.get("media_type") or ""
    image = media_type.startswith("image/")
    if kind == "hosted_file":
        file_id = fields.get("file_id", "")
        if image:
            return {"type": "input_image", "file_id": file_id, "detail": "auto"}
        part = {"type": "input_file", "file_id": file_id}
    else:
        uri = fields.get("uri", "")
        if image:
            return {"type": "input_image", "image_url": uri, "detail": "auto"}
        part = {"type": "input_file", "file_data" if kind == "data" else "file_url": uri}
    name = fields.get("name")
    if isinstance(name, str):
        part["filename"] = name
    return part


def read_part(part: dict[str, Any]) -> dict[str, Any] | None:
    """The content fields a part reads as (``None`` for a part type without a rule).

    Follows the agent-framework hosting package: text-like parts → text, refusal → text marked
    refusal, reasoning_text → text_reasoning, images / files / screenshots → uri, data or hosted_file,
    inline ``text/*`` file data → its decoded text.
    """
    kind = part["type"]
    if kind in ("input_text", "output_text", "text", "summary_text"):
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"], "additional_properties": REFUSAL_PROPERTIES}
    if kind == "reasoning_text":
        return {"type": "text_reasoning", "text": part["text"]}
    if kind == "input_image":
        if image_url := part.get("image_url"):
            return uri_dict(image_url) if image_url.startswith("data:") else uri_dict(image_url, "image/*")
        if file_id := part.get("file_id"):
            return {"type": "hosted_file", "file_id": file_id}
        raise KeyError("image_url")
    if kind == "input_file":
        filename = part.get("filename")
        name = filename if isinstance(filename, str) else None
        if file_url := part.get("file_url"):
            return uri_dict(file_url, name=name)
        if file_id := part.get("file_id"):
            fields: dict[str, Any] = {"type": "hosted_file", "file_id": file_id}
            if name is not None:
                fields["name"] = name
            return fields
        if file_data := part.get("file_data"):
            return _read_file_data(file_data, name)
        raise KeyError("file_data")
    if kind == "computer_screenshot":
        return read_screenshot(part)
    return None


def _read_file_data(data: str, name: str | None) -> dict[str, Any]:
    """Inline file data: ``text/*`` becomes its text (after ``[File: name]``), anything else a data URI."""
    header, marker, encoded = data.partition(";base64,")
    if data.startswith("data:") and marker and header[5:].startswith("text/"):
        try:
            text = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            pass
        else:
            return {"type": "text", "text": f"[File: {name}]\n{text}" if name else text}
    return uri_dict(data, name=name)


def read_screenshot(output: dict[str, Any]) -> dict[str, Any]:
    """A ``computer_screenshot`` (part or ``computer_call_output.output``) as a uri / data / hosted_file."""
    image_url = output.get("image_url")
    file_id = output.get("file_id")
    if isinstance(image_url, str) and image_url:
        fields = uri_dict(image_url)
        if isinstance(file_id, str) and file_id:
            fields["file_id"] = file_id
        return fields
    if isinstance(file_id, str) and file_id:
        return {"type": "hosted_file", "file_id": file_id}
    raise KeyError("image_url")


def write_screenshot(fields: dict[str, Any] | None) -> dict[str, Any]:
    """The ``computer_screenshot`` output of a computer_tool_result's screenshot content."""
    output: dict[str, Any] = {"type": "computer_screenshot"}
    if fields is None:
        return output
    if fields.get("uri"):
        output["image_url"] = fields["uri"]
    if fields.get("file_id"):
        output["file_id"] = fields["file_id"]
    return output
