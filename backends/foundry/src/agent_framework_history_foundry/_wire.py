"""What the store adds to the SDK's ``FoundryStorageProvider``: per-request timeouts and checked answers.

The provider builds its azure-core pipeline itself and takes no transport options, and it trusts a
``create`` that answers 2xx without reading the body, and turns any JSON it gets for a history into a
list (a JSON object becomes its keys, a string its characters). The store therefore wraps the
provider's pipeline client: every request carries azure-core's ``connection_timeout`` /
``read_timeout`` options (each attempt of azure-core's retry policy is bounded), and a 2xx answer is
checked against the shape the operation must have before the SDK decodes it. A wrong answer raises
:class:`~agent_framework_history.CorruptDataError`, so it is never taken for a stored turn or a
history.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final, cast

from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from agent_framework_history.backend import ConfigurationError, CorruptDataError

from ._errors import unavailable

if TYPE_CHECKING:
    from azure.ai.agentserver.responses import FoundryStorageProvider
    from azure.core import AsyncPipelineClient
    from azure.core.rest import AsyncHttpResponse, HttpRequest

__all__ = ["DEFAULT_TIMEOUT", "MAX_TIMEOUT", "CheckedPipelineClient", "check_timeout", "harden"]

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds each storage request may take to connect, and then to answer, per attempt."""

MAX_TIMEOUT: Final = 3600.0


def check_timeout(value: object) -> float:
    """``value`` as a timeout in seconds (a number, or its text from a URL query), else ``ConfigurationError``."""
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not (0 < number <= MAX_TIMEOUT):  # also refuses NaN
        raise ConfigurationError(
            f"timeout must be a number of seconds greater than 0 and at most {MAX_TIMEOUT:g}, got {value!r}; "
            f"e.g. timeout=30 (the default is {DEFAULT_TIMEOUT:g})."
        )
    return number


def _json(answer: AsyncHttpResponse) -> tuple[bool, Any]:
    try:
        return True, json.loads(answer.text())
    except (ValueError, UnicodeDecodeError):
        return False, None


def _sent_json(request: HttpRequest) -> Any:
    content: Any = request.content
    try:
        return json.loads(content) if isinstance(content, (bytes, str)) else None
    except ValueError:
        return None


class CheckedPipelineClient:
    """Stands in for the provider's ``AsyncPipelineClient``: adds timeouts, checks 2xx answers."""

    def __init__(self, client: AsyncPipelineClient[Any, Any], *, timeout: float, storage_url: str) -> None:
        self._client = client
        self.timeout = timeout
        self._storage_path = storage_url.split("://", 1)[-1].split("/", 1)[-1].rstrip("/") + "/"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def close(self) -> None:
        await self._client.close()

    async def send_request(self, request: HttpRequest, **kwargs: Any) -> AsyncHttpResponse:
        kwargs.setdefault("connection_timeout", self.timeout)
        kwargs.setdefault("read_timeout", self.timeout)
        try:
            answer: AsyncHttpResponse = await self._client.send_request(request, **kwargs)
        except (ServiceRequestTimeoutError, ServiceResponseTimeoutError) as exc:
            note = (
                f"Foundry storage did not answer {request.method} {request.url} within timeout={self.timeout:g}s "
                "(per attempt, after azure-core's retries). Check that the endpoint is the project endpoint and "
                "reachable, or open the store with a larger timeout=."
            )
            raise unavailable(exc, note) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise unavailable(
                exc,
                f"Foundry storage could not be reached for {request.method} {request.url.split('?', 1)[0]} (after "
                "azure-core's retries). Check that the endpoint is the project endpoint and reachable; the call "
                "may be retried.",
            ) from exc
        if 200 <= answer.status_code < 300:
            self._check(request, answer)
        return answer

    def _operation(self, request: HttpRequest) -> str:
        path = request.url.split("?", 1)[0].split("://", 1)[-1].split("/", 1)[-1]
        tail = path[len(self._storage_path) :] if path.startswith(self._storage_path) else path
        if request.method == "POST" and tail == "responses":
            return "create"
        if request.method == "GET" and tail == "history/item_ids":
            return "history"
        if request.method == "POST" and tail == "items/batch/retrieve":
            return "items"
        return "other"

    def _check(self, request: HttpRequest, answer: AsyncHttpResponse) -> None:
        operation = self._operation(request)
        if operation == "other":
            return
        if operation == "create" and not answer.text().strip():
            return  # an empty 2xx answer (201/204 style) is what the SDK itself accepts as "created"
        readable, body = _json(answer)
        problem: str | None = None
        if not readable:
            problem = "a body that is not JSON"
        elif operation == "create":
            sent = _sent_json(request)
            wanted = cast(dict[str, Any], sent).get("response", {}).get("id") if isinstance(sent, dict) else None
            if not isinstance(body, dict):
                problem = f"a JSON {type(body).__name__} instead of the stored response object"
            elif cast(dict[str, Any], body).get("id") != wanted:
                problem = f"a response with id {cast(dict[str, Any], body).get('id')!r} instead of {wanted!r}"
        elif operation == "history":
            ids: Any = body
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):  # pyright: ignore[reportUnknownVariableType]
                problem = f"a JSON {type(body).__name__} instead of an array of item ids"
        else:  # items
            sent = _sent_json(request)
            asked: Any = cast(dict[str, Any], sent).get("item_ids") if isinstance(sent, dict) else None
            count = len(asked) if isinstance(asked, list) else None  # pyright: ignore[reportUnknownArgumentType]
            entries: Any = body
            if not isinstance(entries, list):
                problem = f"a JSON {type(body).__name__} instead of an array of items"
            elif count is not None and len(entries) != count:  # pyright: ignore[reportUnknownArgumentType]
                problem = f"{len(entries)} entries for {count} item ids"  # pyright: ignore[reportUnknownArgumentType]
            elif not all(entry is None or isinstance(entry, dict) for entry in entries):  # pyright: ignore[reportUnknownVariableType]
                problem = "entries that are neither item objects nor null"
        if problem is not None:
            raise CorruptDataError(
                f"Foundry storage answered {request.method} {operation} with HTTP {answer.status_code} and an "
                f"unreadable answer: {problem}. It is not trusted (a write is not counted as stored); retry the "
                "call, and if it keeps happening check what sits between this process and the storage endpoint.",
                location=request.url.split("?", 1)[0],
            )


def harden(provider: FoundryStorageProvider, *, timeout: float, storage_url: str) -> FoundryStorageProvider:
    """Give ``provider``'s pipeline per-request timeouts and answer checks (see the module docstring)."""
    from azure.core import AsyncPipelineClient

    client: Any = getattr(provider, "_client", None)
    if not isinstance(client, AsyncPipelineClient):
        raise ConfigurationError(
            "This azure-ai-agentserver-responses release builds FoundryStorageProvider differently than the foundry "
            f"history store expects (no AsyncPipelineClient in _client, found {type(client).__name__}); install a "
            "release the store supports (see its pyproject.toml) or pass response_provider=."
        )
    # isinstance cannot tell the client's type arguments: the provider's pipeline sends azure.core.rest requests.
    pipeline = cast("AsyncPipelineClient[HttpRequest, AsyncHttpResponse]", client)
    checked = CheckedPipelineClient(pipeline, timeout=timeout, storage_url=storage_url)
    provider._client = checked  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    return provider
