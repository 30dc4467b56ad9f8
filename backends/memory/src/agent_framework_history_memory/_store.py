"""Histories in a dict, optionally shared by name inside one process."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote

from agent_framework_history.backend import (
    AllPartitions,
    AppendResult,
    Capability,
    ChainIndex,
    ChainTail,
    ConfigurationError,
    HistoryStoreBase,
    Item,
    SessionActivity,
    SessionKey,
    StoreTarget,
    Turn,
    clone_item,
    new_head,
    parse_target,
)

__all__ = ["MemoryHistoryStore", "memory_name", "memory_store_from_target", "open_memory_store"]

logger = logging.getLogger("agent_framework_history.memory")


@dataclass
class _Session:
    """A session's turns: the chain index, and each turn's own items (oldest first)."""

    index: ChainIndex = field(default_factory=ChainIndex)
    items: dict[str, list[Item]] = field(default_factory=lambda: {})
    last_active: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Data:
    sessions: dict[SessionKey, _Session] = field(default_factory=lambda: {})
    lock: threading.Lock = field(default_factory=threading.Lock)


_NAMED: dict[str, _Data] = {}
_NAMED_LOCK = threading.Lock()


class MemoryHistoryStore(HistoryStoreBase):
    """Keeps histories in memory. Stores opened with the same ``name`` share their data."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_SESSIONS,
            Capability.DELETE,
            Capability.CONCURRENT_APPEND,
            Capability.CHAIN_HEAD,
            Capability.ACTIVITY,
            Capability.LOAD_AFTER,
        }
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
            session = self._data.sessions.get(key)
            index = session.index if session is not None else None
            tip = _tip(index, head, key, warn=True)
            fresh = [item for item in items if index is None or not index.in_chain(item["id"], tip)]
            if not fresh:
                return AppendResult(stored=0, head=tip.head if tip is not None else head)
            if session is None:
                session = self._data.sessions[key] = _Session()
            turn = session.index.record(new_head(), tip, (item["id"] for item in fresh))
            session.items[turn.head] = fresh
            session.last_active = datetime.now(UTC)
        return AppendResult(stored=len(fresh), head=turn.head)

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        with self._data.lock:
            session = self._data.sessions.get(key)
            tip = _tip(session.index if session is not None else None, head, key, warn=False)
            if session is None or tip is None:
                return []
            chosen: list[Item] = []  # newest first
            for turn in tip.chain():
                chosen.extend(reversed(session.items[turn.head]))
                if limit is not None and len(chosen) >= limit:
                    del chosen[limit:]
                    break
            return [clone_item(item) for item in reversed(chosen)]

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        with self._data.lock:
            session = self._data.sessions.get(key)
            tip = _tip(session.index if session is not None else None, head, key, warn=False)
            if session is None or tip is None:
                return ChainTail(items=[], head=None, continues=False)
            base = session.index.get(after) if after is not None else None
            continues = base is not None and tip.descends_from(base)
            chosen: list[Item] = []  # newest first
            for turn in tip.chain():
                if continues and turn is base:
                    break
                chosen.extend(reversed(session.items[turn.head]))
            return ChainTail(items=[clone_item(item) for item in reversed(chosen)], head=tip.head, continues=continues)

    async def _do_delete(self, key: SessionKey) -> bool:
        with self._data.lock:
            return self._data.sessions.pop(key, None) is not None

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        with self._data.lock:
            keys = [key for key in self._data.sessions if key.matches(user, chat)]
        for key in keys:
            yield key

    async def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        with self._data.lock:
            found = [
                SessionActivity(key, session.last_active)
                for key, session in self._data.sessions.items()
                if key.matches(user, chat)
            ]
        for activity in found:
            yield activity

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        with self._data.lock:
            session = self._data.sessions.get(key)
            if session is None or session.last_active >= before:
                return False
            del self._data.sessions[key]
            return True


def _tip(index: ChainIndex | None, head: str | None, key: SessionKey, *, warn: bool) -> Turn | None:
    """The turn ``head`` names (the latest for ``None``); ``None`` for an empty chain."""
    if index is None:
        if head is not None and warn:
            _warn_unknown(head, key)
        return None
    if head is None:
        return index.latest
    turn = index.get(head)
    if turn is None and warn:
        _warn_unknown(head, key)
    return turn


def _warn_unknown(head: str, key: SessionKey) -> None:
    logger.warning(
        "head %r is not a turn of session %r (another session's, or a deleted one's); starting a new chain.",
        head[:80],
        key,
    )


def memory_name(target: StoreTarget) -> str | None:
    """The name a ``memory://NAME`` target shares its data under (``None`` for a private ``memory://``)."""
    if target.scheme != "memory":
        raise ConfigurationError(f"Not a memory:// URL: {target.redacted!r}.")
    if target.query or target.fragment:
        raise ConfigurationError(f"memory:// URLs take no query or fragment: {target.redacted!r}.")
    target.refuse_unknown((), "memory")
    return unquote(target.location).strip("/") or None


def memory_store_from_target(target: StoreTarget) -> MemoryHistoryStore:
    """The store a parsed ``memory://`` target names (what the plugin's factory builds)."""
    return MemoryHistoryStore(memory_name(target))


def open_memory_store(target: str = "memory://", /, **options: Any) -> MemoryHistoryStore:
    """Open ``memory://`` (private) or ``memory://NAME`` (shared by name in this process)."""
    return memory_store_from_target(parse_target(target, **options))
