"""The converted messages ``HistoryStoreProvider`` keeps per chain head, so a turn converts only what is new.

The chain ending at a head never changes: the messages converted for head ``H`` stay right for
``H``, and the chain of any later turn that descends from ``H`` is those messages plus what
``HistoryStore.load_after`` reads after ``H``. Every lookup still asks the store (``load_after``
at the cached head), so a deleted session, a head of another partition or a turn another process
appended is seen at once; the store answers "not on this chain" with the whole chain, which then
replaces what was kept.

Entries are keyed by ``(SessionKey, head)`` (so by partition too) and evicted least recently used
once the messages they hold exceed the budget. Cached messages are never handed out: each call
returns new ``Message`` and ``Content`` objects (see :func:`copy_messages`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final, SupportsIndex

from agent_framework import Content, Message

from ._keys import SessionKey
from ._store import ChainTail, HistoryStore, Item
from .conversion import EXTENSION_KEY, read_items
from .conversion._reader import _report  # pyright: ignore[reportPrivateUsage]

__all__ = ["DEFAULT_CACHE_MESSAGES", "MessageCache", "copy_messages"]

DEFAULT_CACHE_MESSAGES: Final = 20_000
"""Messages a provider keeps converted by default, summed over its entries."""

_Tail = tuple[Any, Any, int]
"""``(message_id, role, index)`` of the last item read when it is a part of one of our messages."""


@dataclass(eq=False, slots=True)
class _Entry:
    messages: list[Message]
    approvals: dict[str, dict[str, Any]] = field(default_factory=lambda: {})
    """The approval requests read so far (an approval response read later needs its request)."""
    tail: _Tail | None = None


def _tail(item: Item) -> _Tail | None:
    extension = item.get(EXTENSION_KEY)
    header = extension.get("message") if isinstance(extension, dict) else None
    if not isinstance(header, dict):
        return None
    index = extension.get("index", 0)  # pyright: ignore[reportOptionalMemberAccess, reportUnknownMemberType, reportUnknownVariableType]
    if type(index) is not int:  # pyright: ignore[reportUnknownArgumentType]
        return None
    return (header.get("message_id"), header.get("role"), index)  # pyright: ignore[reportUnknownMemberType]


def _continues(tail: _Tail | None, item: Item) -> bool:
    """Whether the reader would add ``item``'s contents to the message the last item read belongs to."""
    if tail is None:
        return False
    nxt = _tail(item)
    return nxt is not None and nxt[2] > 0 and nxt[2] == tail[2] + 1 and nxt[0] == tail[0] and nxt[1] == tail[1]


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
    _seal(new)
    if messages and new and _continues(entry.tail, items[0]):
        last = _copy(messages[-1])  # the earlier entry keeps its own message unchanged
        last.contents = [*messages[-1].contents, *new[0].contents]
        messages[-1] = last
        new = new[1:]
    messages += new
    skipped_last = bool(result.skipped) and result.skipped[-1].index == len(items) - 1
    return _Entry(messages, approvals, None if skipped_last else _tail(items[-1]))


class _SealedContent(Content):
    """A cached message's content: shared by every copy handed out, so its attributes cannot be set.

    ``copy.copy`` / ``copy.deepcopy`` give a plain, changeable ``Content``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"Content.{name} of a message loaded by HistoryStoreProvider cannot be set: its contents are shared "
            "with the provider's cache. Replace the content in message.contents with a copy (copy.copy(content)) "
            "and change that."
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __copy__(self) -> Content:
        copied = object.__new__(Content)
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo: dict[int, Any]) -> Content:
        return Content.__deepcopy__(self.__copy__(), memo)

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        return self.__copy__().__reduce_ex__(protocol)


def _seal(messages: list[Message]) -> None:
    for message in messages:
        for content in message.contents:
            if type(content) is Content:
                content.__class__ = _SealedContent


def _copy(message: Message) -> Message:
    copied = object.__new__(type(message))
    copied.__dict__.update(message.__dict__)
    copied.contents = list(message.contents)
    copied.additional_properties = dict(message.additional_properties)
    return copied


def copy_messages(messages: list[Message]) -> list[Message]:
    """New ``Message`` objects with their own ``contents`` list and ``additional_properties`` dict.

    A caller may set any attribute of a message it gets, and add, remove or replace its contents and
    additional properties, without reaching the cache. The ``Content`` objects are shared (as in
    agent-framework's own message copies) and refuse attribute assignment; deeper values (a
    function call's ``arguments`` dict) are shared too.
    """
    return [_copy(message) for message in messages]


class MessageCache:
    """Converted messages per ``(session key, head)``, least recently used evicted past ``budget`` messages."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[tuple[SessionKey, str], _Entry] = OrderedDict()
        self._latest: dict[SessionKey, str] = {}
        self._held = 0

    @property
    def held(self) -> int:
        """Messages held, summed over the entries."""
        return self._held

    def __len__(self) -> int:
        return len(self._entries)

    def _find(self, key: SessionKey, head: str | None) -> tuple[str, _Entry] | None:
        """The entry for ``head``, else the session's most recent one (its turn may precede ``head``)."""
        for candidate in (head, self._latest.get(key)):
            if candidate is not None and (entry := self._entries.get((key, candidate))) is not None:
                self._entries.move_to_end((key, candidate))
                return candidate, entry
        return None

    def _put(self, key: SessionKey, head: str, entry: _Entry, *, replaces: str | None = None) -> None:
        if replaces is not None and replaces != head:
            self._drop((key, replaces))
        self._drop((key, head))
        if len(entry.messages) > self.budget:
            return
        self._entries[(key, head)] = entry
        self._latest[key] = head
        self._held += len(entry.messages)
        while self._held > self.budget:
            self._drop(next(iter(self._entries)))

    def _drop(self, slot: tuple[SessionKey, str]) -> None:
        entry = self._entries.pop(slot, None)
        if entry is None:
            return
        self._held -= len(entry.messages)
        key, head = slot
        if self._latest.get(key) == head:
            del self._latest[key]

    async def load(self, store: HistoryStore, key: SessionKey, head: str | None) -> list[Message]:
        """The messages of the chain ending at ``head`` (the latest turn), reading only what is new."""
        found = self._find(key, head)
        tail: ChainTail = await store.load_after(key, found[0] if found is not None else None, head=head)
        if found is not None and tail.continues:
            entry = extend(found[1], tail.items)
        else:
            if found is not None and (found[0] == head or tail.head is None):
                self._drop((key, found[0]))  # its head is gone (a deleted session) or names nothing here
            entry = extend(None, tail.items)
        if tail.head is not None:
            self._put(key, tail.head, entry)
        return copy_messages(entry.messages)

    def saved(self, key: SessionKey, parent: str | None, head: str | None, items: list[Item], stored: int) -> None:
        """After ``append(key, items, head=parent)`` stored ``stored`` items as turn ``head``: extend the entry.

        Only when every item was stored (the turn holds exactly ``items``) and ``parent``'s messages are kept.
        """
        if parent is None or head is None or head == parent or stored != len(items):
            return
        entry = self._entries.get((key, parent))
        if entry is None:
            return
        self._put(key, head, extend(entry, items), replaces=parent)
