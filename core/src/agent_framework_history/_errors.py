"""The error classes every part of the library raises.

One hierarchy, rooted at :class:`HistoryStoreError`::

    HistoryStoreError
    ├── ConfigurationError (also ValueError)      a setting, URL or option is wrong
    │   ├── UnknownBackendError                   no installed backend answers to the name or scheme
    │   ├── BackendConflictError                  two distributions claim one name or scheme
    │   └── SchemaVersionError                    the store was written by a newer release
    ├── InvalidArgumentError (also ValueError)    a key, limit, item, head or time passed to a store is wrong
    ├── InterchangeError (also ValueError)        an export file cannot be read back (``af-history import``)
    ├── CorruptDataError                          stored data cannot be read back
    ├── StoreUnavailableError                     the store cannot be reached now; a later try may work
    ├── StoreClosedError (also RuntimeError)      the store was used after ``aclose()``
    ├── UnsupportedOperationError (also NotImplementedError)
    └── SessionConflictError (also RuntimeError)  a session write was based on a stale read

Backends raise these or subclasses of them (``PostgresUnavailableError`` is a
:class:`StoreUnavailableError`, sqlite's ``DatabaseLockedError`` a :class:`HistoryStoreError`).
"""

from __future__ import annotations

__all__ = [
    "BackendConflictError",
    "ConfigurationError",
    "CorruptDataError",
    "HistoryStoreError",
    "InterchangeError",
    "InvalidArgumentError",
    "SchemaVersionError",
    "StoreClosedError",
    "StoreUnavailableError",
    "UnknownBackendError",
    "UnsupportedOperationError",
]


class HistoryStoreError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigurationError(HistoryStoreError, ValueError):
    """A setting, URL or option is wrong; the message says which and what to do."""


class UnknownBackendError(ConfigurationError):
    """No installed backend answers to the requested name or URL scheme."""


class BackendConflictError(ConfigurationError):
    """Two installed distributions register a backend under the same name or scheme."""


class SchemaVersionError(ConfigurationError):
    """The store's schema was written by a newer release than the installed backend knows.

    Raised when the store is opened, before anything is written; upgrading the backend's distribution
    is the fix. A :class:`ConfigurationError`, as the PostgreSQL backend raised for it before.
    """


class InvalidArgumentError(HistoryStoreError, ValueError):
    """An argument of a store operation is wrong: a session key, a limit, an item, a head, a time.

    Also a ``ValueError``, so ``except ValueError`` keeps catching it.
    """


class InterchangeError(HistoryStoreError, ValueError):
    """An interchange (export) file cannot be read back; the message names the file and line."""


class CorruptDataError(HistoryStoreError):
    """Stored data cannot be read back; ``location`` names the file, line, table or row."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.location = location


class StoreUnavailableError(HistoryStoreError):
    """The store cannot be reached now (a server down, a connection lost, a service that stopped answering).

    Transient: nothing was half-written, and the same call may succeed later. Backends raise subclasses
    that name the service (``PostgresUnavailableError``, foundry's ``FoundryUnavailableError``).
    """


class StoreClosedError(HistoryStoreError, RuntimeError):
    """The store was used after ``aclose()``."""


class UnsupportedOperationError(HistoryStoreError, NotImplementedError):
    """The backend does not offer this operation (see ``HistoryStore.capabilities``)."""
