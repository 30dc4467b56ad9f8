"""Request-context binding: who is asking and which response chain a turn continues.

Two sources feed :func:`current_request_context`, per field, in this order:

1. what the application bound with :func:`bind_request_context` (explicit values win);
2. what the serving host publishes for the request being handled: azure-ai-agentserver's
   platform context (``get_request_context()``: the ``x-agent-user-id`` user and the
   ``x-agent-foundry-call-id`` call id, set by ``ResponsesHostServer`` and every AgentServer
   host) and the id of the response the host is writing (the ``azure.ai.agentserver.response_id``
   OpenTelemetry baggage entry those hosts set per request).

So an agent served by such a host gets the host's user as its isolation partition and its call
id on every storage request with no code of its own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "RequestContext",
    "bind_host_response",
    "bind_request_context",
    "current_request_context",
    "host_request_context",
]

logger = logging.getLogger("agent_framework_history")

HOST_RESPONSE_BAGGAGE: Final = "azure.ai.agentserver.response_id"
"""OpenTelemetry baggage entry in which AgentServer hosts publish the response being written."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What is known about the request being served.

    ``user`` and ``chat`` are isolation keys; ``response_id`` and ``previous_response_id``
    name the response chain a turn writes and continues (stores such as Foundry use them);
    ``call_id`` is forwarded to the storage service. ``host_response_id`` is the response the
    serving host itself records for this request (read from the host, never bound by hand): a
    store that shares the host's storage can use it instead of writing a second copy.
    """

    user: str | None = None
    chat: str | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    call_id: str | None = None
    host_response_id: str | None = None


_EMPTY: Final = RequestContext()
_CURRENT: ContextVar[RequestContext] = ContextVar("agent_framework_history_request", default=_EMPTY)
_HOST_RESPONSE: ContextVar[str | None] = ContextVar("agent_framework_history_host_response", default=None)


def bind_host_response(request: Any, options: dict[str, Any]) -> dict[str, Any]:
    """A ``ResponsesHostServer(prepare_options=...)`` hook that publishes the host's response id.

    Hosts publish the id of the response they are writing in OpenTelemetry baggage, but
    azure-ai-agentserver-responses 2.4 runs a *streamed* request's handler after detaching that
    baggage. The host calls this hook inside the handler, just before the agent runs, so the id
    it records here (``request.response_id``) is in force for the whole run, streamed or not. It
    returns ``options`` unchanged. Only the foundry backend's hosted mode needs the id (to store
    each turn once, in the host's chain)::

        ResponsesHostServer(agent, history_source="agent", prepare_options=bind_host_response)
    """
    response_id = getattr(request, "response_id", None)
    if isinstance(response_id, str) and response_id:
        _HOST_RESPONSE.set(response_id)
    return options


def _platform_reader() -> Callable[[], Any] | None:
    try:
        from azure.ai.agentserver.core import get_request_context
    except ImportError:  # pragma: no cover - the core depends on azure-ai-agentserver-core
        return None
    return get_request_context


def _baggage_reader() -> Callable[[str], object] | None:
    try:
        from opentelemetry import baggage
    except ImportError:  # pragma: no cover - agent-framework depends on opentelemetry
        return None
    return baggage.get_baggage


_read_platform = _platform_reader()
_read_baggage = _baggage_reader()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def host_request_context() -> RequestContext:
    """What the serving host publishes for the current request (all ``None`` outside a host)."""
    user = call_id = response_id = None
    if _read_platform is not None:
        platform = _read_platform()
        user = _text(getattr(platform, "user_id", None))
        call_id = _text(getattr(platform, "call_id", None))
    response_id = _HOST_RESPONSE.get()
    if response_id is None and _read_baggage is not None:
        response_id = _text(_read_baggage(HOST_RESPONSE_BAGGAGE))
    if user is None and call_id is None and response_id is None:
        return _EMPTY
    return RequestContext(user=user, call_id=call_id, host_response_id=response_id)


def current_request_context() -> RequestContext:
    """The request facts in force for this task: the application's binding over the host's.

    An empty ``RequestContext`` when nothing is bound and no host publishes a request.
    """
    bound = _CURRENT.get()
    host = host_request_context()
    if host is _EMPTY:
        return bound
    return dataclasses.replace(
        bound,
        user=bound.user if bound.user is not None else host.user,
        call_id=bound.call_id if bound.call_id is not None else host.call_id,
        host_response_id=bound.host_response_id if bound.host_response_id is not None else host.host_response_id,
    )


def _check_binding(name: str, value: object) -> None:
    """``ValueError`` unless ``value`` (as an untyped caller may pass it) is a non-empty string or None."""
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"bind_request_context({name}=...) needs a non-empty string or None, got {value!r}.")


@contextmanager
def use_request_context(context: RequestContext) -> Generator[RequestContext, None, None]:
    """Make ``context`` (e.g. one captured earlier in the same run) the binding inside the block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


@contextmanager
def bind_request_context(
    *,
    user: str | None = None,
    chat: str | None = None,
    response_id: str | None = None,
    previous_response_id: str | None = None,
    call_id: str | None = None,
) -> Generator[RequestContext, None, None]:
    """Bind request facts for the code inside the ``with`` block.

    Bindings live in a :class:`~contextvars.ContextVar`, so concurrent asyncio tasks each
    see their own, and a nested binding restores the outer one on exit. A value bound here
    wins over what the serving host publishes; ``None`` leaves the host's value in force.
    ``HistoryStoreProvider`` keeps the binding in force at the start of a run for the save at
    its end, so a streamed run whose save happens after this block has exited is covered too.

    >>> with bind_request_context(user="alice", chat="c1") as ctx:
    ...     current_request_context().user
    'alice'
    """
    for name, value in (
        ("user", user),
        ("chat", chat),
        ("response_id", response_id),
        ("previous_response_id", previous_response_id),
        ("call_id", call_id),
    ):
        _check_binding(name, value)
    context = RequestContext(
        user=user,
        chat=chat,
        response_id=response_id,
        previous_response_id=previous_response_id,
        call_id=call_id,
    )
    with use_request_context(context) as bound:
        yield bound
