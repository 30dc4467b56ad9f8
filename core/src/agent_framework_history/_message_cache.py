"""The converted messages ``HistoryStoreProvider`` keeps per chain head, so a turn converts only what is new.

The chain ending at a head never changes: the messages converted for head ``H`` stay right for
``H``, and the chain of any later turn that descends from ``H`` is those messages plus what
``HistoryStore.load_after`` reads after ``H``. Every lookup still asks the store (``load_after``
at the cached head), so a deleted session, a head of another partition or a turn another process
appended is seen at once; the store answers "not on this chain" with the whole chain, which then
replaces what was kept.

Entries are keyed by ``(SessionKey, head)`` (so by partition too) and evicted least recently used
once the messages they hold exceed the budget. The messages are sealed (see ``_sealed``): every
caller gets the same read-only objects in a list of its own, so nobody can change what another
caller, or a later turn, reads.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from agent_framework import Message

from ._keys import SessionKey
from ._sealed import seal_message
from ._store import ChainTail, HistoryStore, Item
from .conversion import read_items
from .conversion._format import MessagePart, continues_message, message_part
from .conversion._reader import _report

__all__ = ["DEFAULT_CACHE_MESSAGES", "MessageCache", "extend"]

DEFAULT_CACHE_MESSAGES: Final = 20_000
"""Messages a provider keeps converted by default, summed over its entries."""


@dataclass(eq=False, slots=True)
class _Entry:
    messages: list[Message]
    approvals: dict[str, dict[str, Any]] = field(default_factory=lambda: {})
    """The approval requests read so far (an approval response read later needs its request)."""
    tail: MessagePart | None = None


def extend(entry: _Entry | None, items: list[Item]) -> _Entry:
    """A new entry: ``entry``'s messages followed by ``items`` converted (exactly as one read of both)."""
    if entry is None:
        entry = _Entry([])
    if not items:
        return entry
    approvals = dict(entry.approvals)
    result = read_items(items, approvals=approvals)
    if result.skipped:
        _report(result.skipped)
    messages = list(entry.messages)
    new = result.messages
    if messages and new and continues_message(entry.tail, message_part(items[0])):
        last = copy.copy(messages[-1])  # a new message: the earlier entry keeps its own unchanged
        last.contents = [*messages[-1].contents, *new[0].contents]
        messages[-1] = seal_message(last)
        new = new[1:]
    messages += [seal_message(message) for message in new]
    skipped_last = bool(result.skipped) and result.skipped[-1].index == len(items) - 1
    return _Entry(messages, approvals, None if skipped_last else message_part(items[-1]))


HEADS_PER_SESSION: Final = 4
"""Heads kept per session: the latest turns, and the one a retry or a fork keeps coming back to."""


class MessageCache:
    """Converted messages per ``(session key, head)``, least recently used evicted past ``budget`` messages.

    A session's entries share their messages (a chain's prefix is the same objects), so a session
    counts as its longest entry; at most :data:`HEADS_PER_SESSION` heads are kept per session.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[tuple[SessionKey, str], _Entry] = OrderedDict()
        self._heads: dict[SessionKey, list[str]] = {}
        """Each session's cached heads, the most recently used last."""
        self._sizes: dict[SessionKey, int] = {}
        self._held = 0

    @property
    def held(self) -> int:
        """Messages held, each session counted as its longest entry."""
        return self._held

    def __len__(self) -> int:
        return len(self._entries)

    def _find(self, key: SessionKey, head: str | None) -> tuple[str, _Entry] | None:
        """The entry for ``head``, else the session's most recently used one (its turn may precede ``head``)."""
        heads = self._heads.get(key)
        for candidate in (head, heads[-1] if heads else None):
            if candidate is not None and (entry := self._entries.get((key, candidate))) is not None:
                self._entries.move_to_end((key, candidate))
                if heads is not None and heads[-1] != candidate:  # kept longest among the session's heads
                    heads.remove(candidate)
                    heads.append(candidate)
                return candidate, entry
        return None

    def _resize(self, key: SessionKey) -> None:
        size = max((len(self._entries[(key, head)].messages) for head in self._heads.get(key, ())), default=0)
        self._held += size - self._sizes.pop(key, 0)
        if size:
            self._sizes[key] = size

    def _put(self, key: SessionKey, head: str, entry: _Entry) -> None:
        self._drop((key, head))
        if len(entry.messages) > self.budget:
            return
        self._entries[(key, head)] = entry
        heads = self._heads.setdefault(key, [])
        heads.append(head)
        if len(heads) > HEADS_PER_SESSION:
            self._drop((key, heads[0]))
        self._resize(key)
        while self._held > self.budget:
            self._drop(next(iter(self._entries)))

    def _drop(self, slot: tuple[SessionKey, str]) -> None:
        if self._entries.pop(slot, None) is None:
            return
        key, head = slot
        heads = self._heads[key]
        heads.remove(head)
        if not heads:
            del self._heads[key]
        self._resize(key)

    async def load(
        self,
        store: HistoryStore,
        key: SessionKey,
        head: str | None,
        *,
        usable: Callable[[list[Item]], bool] | None = None,
    ) -> list[Message] | None:
        """The messages of the chain ending at ``head`` (the latest turn), reading only what is new.

        ``usable`` vets the items read: when it refuses them, the session's entries are dropped and
        ``None`` is returned (the caller reads the chain its own way).
        """
        found = self._find(key, head)
        tail: ChainTail = await store.load_after(key, found[0] if found is not None else None, head=head)
        if usable is not None and not usable(tail.items):
            for cached in list(self._heads.get(key, ())):
                self._drop((key, cached))
            return None
        if found is not None and tail.continues:
            entry = extend(found[1], tail.items)
        else:
            if found is not None and (found[0] == head or tail.head is None):
                self._drop((key, found[0]))  # its head is gone (a deleted session) or names nothing here
            entry = extend(None, tail.items)
        if tail.head is not None:
            self._put(key, tail.head, entry)
        return list(entry.messages)

    def saved(self, key: SessionKey, parent: str | None, head: str | None, items: list[Item], stored: int) -> None:
        """After ``append(key, items, head=parent)`` stored ``stored`` items as turn ``head``: extend the entry.

        Only when every item was stored (the turn holds exactly ``items``) and ``parent``'s messages are kept.
        """
        if parent is None or head is None or head == parent or stored != len(items):
            return
        entry = self._entries.get((key, parent))
        if entry is None:
            return
        self._put(key, head, extend(entry, items))
