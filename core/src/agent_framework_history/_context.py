"""Request-context binding: who is asking and which response chain a turn continues."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["RequestContext", "bind_request_context", "current_request_context"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the host knows about the request being served.

    ``user`` and ``chat`` are isolation keys; ``response_id`` and ``previous_response_id``
    name the response chain (stores such as Foundry use them); ``call_id`` is forwarded to
    the storage service for tracing.
    """

    user: str | None = None
    chat: str | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    call_id: str | None = None


_EMPTY = RequestContext()
_CURRENT: ContextVar[RequestContext] = ContextVar("agent_framework_history_request", default=_EMPTY)


def current_request_context() -> RequestContext:
    """The binding in force for this task (an empty ``RequestContext`` when none is)."""
    return _CURRENT.get()


@contextmanager
def bind_request_context(
    *,
    user: str | None = None,
    chat: str | None = None,
    response_id: str | None = None,
    previous_response_id: str | None = None,
    call_id: str | None = None,
) -> Iterator[RequestContext]:
    """Bind request facts for the code inside the ``with`` block.

    Bindings live in a :class:`~contextvars.ContextVar`, so concurrent asyncio tasks each
    see their own, and a nested binding restores the outer one on exit.

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
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"bind_request_context({name}=...) needs a non-empty string or None, got {value!r}.")
    context = RequestContext(
        user=user,
        chat=chat,
        response_id=response_id,
        previous_response_id=previous_response_id,
        call_id=call_id,
    )
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
