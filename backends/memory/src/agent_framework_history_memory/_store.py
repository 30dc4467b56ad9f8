"""Histories in a dict, optionally shared by name inside one process."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from agent_framework_history import (
    AllPartitions,
    AppendResult,
    Capability,
    ConfigurationError,
    HistoryStoreBase,
    Item,
    SessionKey,
    clone_item,
)

__all__ = ["MemoryHistoryStore", "open_memory_store"]


@dataclass
class _Session:
    items: list[Item] = field(default_factory=lambda: [])
    ids: set[str] = field(default_factory=lambda: set())


@dataclass
class _Data:
    sessions: dict[SessionKey, _Session] = field(default_factory=lambda: {})
    lock: threading.Lock = field(default_factory=threading.Lock)


_NAMED: dict[str, _Data] = {}
_NAMED_LOCK = threading.Lock()


class MemoryHistoryStore(HistoryStoreBase):
    """Keeps histories in memory. Stores opened with the same ``name`` share their data."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LIST_SESSIONS, Capability.DELETE, Capability.CONCURRENT_APPEND}
    )

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name
        if name is None:
            self._data = _Data()
        else:
            with _NAMED_LOCK:
                self._data = _NAMED.setdefault(name, _Data())

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        with self._data.lock:
            session = self._data.sessions.setdefault(key, _Session())
            fresh = [item for item in items if item["id"] not in session.ids]
            session.items.extend(fresh)
            session.ids.update(item["id"] for item in fresh)
        return AppendResult(stored=len(fresh))

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        with self._data.lock:
            session = self._data.sessions.get(key)
            if session is None:
                return []
            chosen = session.items if limit is None else session.items[-limit:]
            return [clone_item(item) for item in chosen]

    async def _do_delete(self, key: SessionKey) -> bool:
        with self._data.lock:
            return self._data.sessions.pop(key, None) is not None

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        with self._data.lock:
            keys = [key for key, session in self._data.sessions.items() if session.items and key.matches(user, chat)]
        for key in keys:
            yield key


def open_memory_store(target: str = "memory://", /, **options: Any) -> MemoryHistoryStore:
    """Open ``memory://`` (private) or ``memory://NAME`` (shared by name in this process)."""
    if options:
        raise ConfigurationError(f"The memory backend takes no options, got {sorted(options)}.")
    parts = urlsplit(target)
    if parts.scheme.lower() != "memory":
        raise ConfigurationError(f"Not a memory:// URL: {target!r}.")
    name = unquote(parts.netloc + parts.path).strip("/") or None
    if parts.query or parts.fragment:
        raise ConfigurationError(f"memory:// URLs take no query or fragment: {target!r}.")
    return MemoryHistoryStore(name)
