"""What a store that can inspect its own storage reports: :attr:`Capability.CHECK` and :attr:`Capability.REPAIR`.

``af-history check`` loads every session, which finds what a load refuses. A store that keeps its data in
files can also find damage a load passes over (a write cut short by a crash, a line that is not an item) and
repair some of it safely. It declares :attr:`Capability.CHECK` (and :attr:`Capability.REPAIR`) and implements
``HistoryStoreBase._do_check_storage``; the CLI reads the typed report, never the backend's own types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._keys import SessionKey

__all__ = ["ProblemKind", "StorageChecking", "StorageProblem", "StorageRepair", "StorageReport"]


class ProblemKind(enum.StrEnum):
    """What is wrong at one place of a store's storage."""

    TORN = "torn"
    """A write cut short (by a crash): never a complete item, so removing it loses nothing. Repairable."""
    CORRUPT = "corrupt"
    """A complete record that is not an item. Never changed by the library: fix or remove it by hand."""


@dataclass(frozen=True, slots=True)
class StorageProblem:
    """One damaged place: ``location`` (a file and line, a table and row), ``detail`` (what, in words)."""

    kind: ProblemKind
    location: str
    detail: str
    key: SessionKey | None = None

    @property
    def repairable(self) -> bool:
        """Whether ``check_storage(repair=True)`` fixes it (on a store with :attr:`Capability.REPAIR`)."""
        return self.kind is ProblemKind.TORN


@dataclass(frozen=True, slots=True)
class StorageRepair:
    """One repair done: where, and what was done (``"torn last line 3 (removed 12 bytes)"``)."""

    location: str
    detail: str
    key: SessionKey | None = None


@dataclass(frozen=True, slots=True)
class StorageReport:
    """What ``check_storage`` found (``problems``, those left) and did (``repaired``)."""

    problems: tuple[StorageProblem, ...] = ()
    repaired: tuple[StorageRepair, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing left to report."""
        return not self.problems


@runtime_checkable
class StorageChecking(Protocol):
    """A store with ``check_storage`` (every ``HistoryStoreBase``; it works where it declares ``Capability.CHECK``)."""

    async def check_storage(self, *, repair: bool = False) -> StorageReport: ...
