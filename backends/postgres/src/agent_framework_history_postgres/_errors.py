"""Which driver errors mean "the connection is gone", and the error raised when it stays gone."""

from __future__ import annotations

import asyncpg

from agent_framework_history.backend import HistoryStoreError, StoreUnavailableError

__all__ = [
    "PostgresServerError",
    "PostgresUnavailableError",
    "UnstorableItemError",
    "is_connection_loss",
]


class PostgresUnavailableError(StoreUnavailableError, ConnectionError):
    """The server could not be reached, the connection broke again after one retry, or no pooled
    connection came free in time: the library's :class:`StoreUnavailableError` (and a ``ConnectionError``)."""


class PostgresServerError(HistoryStoreError):
    """The server refused an operation (a table dropped behind the store's back, a permission
    missing, a statement cancelled…); ``sqlstate`` is PostgreSQL's five-character error code."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class UnstorableItemError(HistoryStoreError, ValueError):
    """An item or key this backend cannot store (an id too long to index, a NUL character);
    raised before anything is sent to the server."""


_LOSS = (
    asyncpg.PostgresConnectionError,  # class 08 and "connection was closed in the middle of operation"
    asyncpg.AdminShutdownError,  # pg_terminate_backend, server shutting down
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,  # server starting up or in recovery
    ConnectionError,
)


def is_connection_loss(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection broke (so nothing of an open transaction committed).

    A statement timeout is not a loss: the connection survives and the same statement would
    likely time out again. asyncpg reports a use of a connection that died under it as an
    ``InterfaceError`` (``DataError``, its subclass for bad arguments, is not a loss), or as an
    ``InternalClientError`` when the server's farewell arrives while a command is being sent.
    """
    if isinstance(exc, TimeoutError):
        return False
    if isinstance(exc, _LOSS):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, asyncpg.DataError):
        return True
    if isinstance(exc, asyncpg.InternalClientError):  # e.g. the server's FATAL arrived mid-command
        return True
    return isinstance(exc, OSError)
