"""The error classes every part of the library raises."""

from __future__ import annotations

__all__ = [
    "BackendConflictError",
    "ConfigurationError",
    "CorruptDataError",
    "HistoryStoreError",
    "StoreClosedError",
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


class CorruptDataError(HistoryStoreError):
    """Stored data cannot be read back; ``location`` names the file, line, table or row."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.location = location


class StoreClosedError(HistoryStoreError, RuntimeError):
    """The store was used after ``aclose()``."""


class UnsupportedOperationError(HistoryStoreError, NotImplementedError):
    """The backend does not offer this operation (see ``HistoryStore.capabilities``)."""
