"""Copying every session from one store (or a FileHistoryProvider directory) to another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .._keys import SessionKey
from .._store import HistoryStore, Item
from ._batches import append_in_batches

__all__ = ["Migration", "SessionOutcome", "Source", "StoreSource", "copy_session", "migrate"]


class Source(Protocol):
    """Where a migration reads from: a list of sessions and a way to load each."""

    def sessions(self) -> Sequence[SessionKey]: ...

    async def load(self, key: SessionKey) -> list[Item]: ...


class StoreSource:
    """A :class:`HistoryStore` with its sessions already listed."""

    def __init__(self, store: HistoryStore, keys: Sequence[SessionKey]) -> None:
        self.store = store
        self.keys = list(keys)

    def sessions(self) -> Sequence[SessionKey]:
        return self.keys

    async def load(self, key: SessionKey) -> list[Item]:
        return await self.store.load(key)


@dataclass(slots=True)
class SessionOutcome:
    """One session's copy: items in the source, newly stored, and what the destination holds afterwards."""

    key: SessionKey
    source_items: int
    stored: int
    destination_items: int
    missing: int

    @property
    def ok(self) -> bool:
        return self.missing == 0


@dataclass(slots=True)
class Migration:
    sessions: list[SessionOutcome] = field(default_factory=lambda: [])

    @property
    def items(self) -> int:
        return sum(s.source_items for s in self.sessions)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.sessions)

    @property
    def failed(self) -> list[SessionOutcome]:
        return [s for s in self.sessions if not s.ok]


async def copy_session(
    source: Source, destination: HistoryStore, key: SessionKey, on_items: Callable[[int], None]
) -> SessionOutcome:
    """Append one session's items in batches, then load the destination and check every id arrived."""
    items = await source.load(key)
    stored, head = await append_in_batches(destination, key, items, on_batch=on_items)
    landed = await destination.load(key, head=head)
    present = {item.get("id") for item in landed}
    missing = sum(1 for item in items if item["id"] not in present)
    return SessionOutcome(key, len(items), stored, len(landed), missing)


async def migrate(
    source: Source,
    destination: HistoryStore,
    *,
    on_session: Callable[[SessionOutcome], None] | None = None,
    on_items: Callable[[int], None] | None = None,
) -> Migration:
    """Copy every session of ``source``. Appends skip stored ids, so running it again resumes."""
    migration = Migration()
    for key in source.sessions():
        outcome = await copy_session(source, destination, key, on_items or (lambda _n: None))
        migration.sessions.append(outcome)
        if on_session is not None:
            on_session(outcome)
    return migration
