"""Describing Foundry storage errors for logs: the HTTP status and the service's own message."""

from __future__ import annotations

import re
from typing import Any, cast

from azure.ai.agentserver.responses import (
    FoundryBadRequestError,
    FoundryResourceNotFoundError,
    FoundryStorageError,
)

__all__ = ["describe_storage_error", "error_code", "error_status"]

_STATUS_RE = re.compile(r"\bHTTP (\d{3})\b")


def error_status(exc: FoundryStorageError) -> str:
    """The HTTP status as far as the SDK's error tells it (``"HTTP 404"``, ``"HTTP 400/409"``, ``"HTTP 503"``…)."""
    if isinstance(exc, FoundryResourceNotFoundError):
        return "HTTP 404"
    if isinstance(exc, FoundryBadRequestError):
        return "HTTP 400/409"
    match = _STATUS_RE.search(exc.message or "")
    return f"HTTP {match.group(1)}" if match else "HTTP error (non-2xx, status not in the body)"


def error_code(exc: FoundryStorageError) -> str | None:
    """``error.code`` from the service's JSON error body, when it sent one."""
    body: dict[str, Any] = exc.response_body or {}
    error: Any = body.get("error")
    if isinstance(error, dict):
        code: Any = cast(dict[str, Any], error).get("code")
        if code:
            return str(code)
    return None


def describe_storage_error(exc: FoundryStorageError) -> str:
    """``"<ErrorClass> HTTP <status>: <message> (code <code>)"`` for a log line."""
    code = error_code(exc)
    suffix = f" (code {code})" if code else ""
    return f"{type(exc).__name__} {error_status(exc)}: {exc.message}{suffix}"
