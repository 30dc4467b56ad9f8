"""Foundry storage errors: the service out of reach (a ``StoreUnavailableError``), and describing the rest for logs."""

from __future__ import annotations

import re
from typing import Any, cast

from azure.ai.agentserver.responses import (
    FoundryBadRequestError,
    FoundryResourceNotFoundError,
    FoundryStorageError,
)
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from agent_framework_history.backend import StoreUnavailableError

__all__ = ["FoundryUnavailableError", "describe_storage_error", "error_code", "error_status", "unavailable"]

_STATUS_RE = re.compile(r"\bHTTP (\d{3})\b")


class FoundryUnavailableError(StoreUnavailableError):
    """Foundry storage could not be reached, dropped the connection or did not answer in time, after
    azure-core's retries. Each concrete error is also the azure-core error it stands for (for example
    ``ServiceRequestTimeoutError``), so code that caught those keeps catching it."""


class _RequestUnavailable(FoundryUnavailableError, ServiceRequestError):
    """The request could not be sent (the endpoint unreachable, the connection refused)."""


class _RequestTimedOut(FoundryUnavailableError, ServiceRequestTimeoutError):
    """The connection could not be made within the timeout."""


class _ResponseUnavailable(FoundryUnavailableError, ServiceResponseError):
    """The request was sent but no answer came back (the connection dropped)."""


class _ResponseTimedOut(FoundryUnavailableError, ServiceResponseTimeoutError):
    """The request was sent but the answer did not come within the timeout."""


#: Most specific first: the timeouts are subclasses of the plain errors.
_UNAVAILABLE: tuple[tuple[type[ServiceRequestError | ServiceResponseError], type[FoundryUnavailableError]], ...] = (
    (ServiceRequestTimeoutError, _RequestTimedOut),
    (ServiceResponseTimeoutError, _ResponseTimedOut),
    (ServiceRequestError, _RequestUnavailable),
    (ServiceResponseError, _ResponseUnavailable),
)


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


def unavailable(exc: ServiceRequestError | ServiceResponseError, note: str) -> FoundryUnavailableError:
    """The :class:`FoundryUnavailableError` for azure-core's transport error ``exc``: its message and notes,
    and ``note`` (what was asked, what to check). Raise it ``from exc``."""
    kind = next(wrapper for azure, wrapper in _UNAVAILABLE if isinstance(exc, azure))
    error = kind(exc.message)
    setattr(error, "inner_exception", exc.inner_exception)  # noqa: B010 - azure-core: the transport error underneath
    for earlier in getattr(exc, "__notes__", []):
        error.add_note(earlier)
    error.add_note(note)
    return error
