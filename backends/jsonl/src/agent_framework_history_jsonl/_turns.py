"""Turns in a session file: the append index, and the chain ending at a head read forwards or backwards.

A turn marker closes a turn made of the item lines since the previous marker. Item lines after the
last marker (a file written before turn markers existed, by an older writer, or left by an append a
crash cut short) form an unnamed turn whose parent is the turn of that last marker, so a file
without markers is one linear chain. The next append names such a run: its write starts with a
marker closing it.

The parent a marker names is the latest turn with that head *before* it in the file, so forward
and backward readings always agree, and a hand-edited file cannot make a cycle.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from agent_framework_history.backend import (
    ChainIndex,
    Item,
    Turn,
)

from ._lines import Record, TurnMarker

__all__ = ["BackwardChain", "BackwardTail", "FileIndex", "chain_items", "chain_tail"]


@dataclass(eq=False, slots=True)
class FileIndex:
    """What an appender knows of a session file: its turns, the ids each holds, and where markers are."""

    chains: ChainIndex = field(default_factory=ChainIndex)
    loose: list[str] = field(default_factory=lambda: [])
    """Ids of the item lines after the last marker (an unnamed turn continuing ``chains.latest``)."""
    loose_ids: set[str] = field(default_factory=lambda: set())
    markers: dict[str, tuple[int, str | None]] = field(default_factory=lambda: {})
    """``head -> (offset of its marker line, parent head)``."""

    def add(self, offset: int, record: Record) -> None:
        """Take in the record found at byte ``offset`` (records must come in file order)."""
        if isinstance(record, TurnMarker):
            self.close(offset, record.head, record.parent)
        else:
            self.loose.append(record["id"])
            self.loose_ids.add(record["id"])

    def close(self, offset: int, head: str, parent: str | None) -> Turn:
        """Record the turn a marker at ``offset`` closes: the loose items become its items."""
        turn = self.chains.record(head, self.chains.get(parent) if parent is not None else None, self.loose)
        self.markers[head] = (offset, turn.parent.head if turn.parent is not None else None)
        self.loose = []
        self.loose_ids = set()
        return turn

    def in_latest_chain(self, item_id: str) -> bool:
        """Whether ``item_id`` is in the chain ending at the session's latest turn (the loose run included)."""
        return item_id in self.loose_ids or self.chains.in_chain(item_id, self.chains.latest)


def chain_items(records: list[Record], head: str | None) -> list[Item]:
    """The items of the chain ending at ``head`` (``None``: the latest turn), reading ``records`` forwards."""
    return chain_tail(records, None, head)[2]


def chain_tail(records: list[Record], after: str | None, head: str | None) -> tuple[str | None, bool, list[Item]]:
    """``(tip head, continues, items)``: what the chain ending at ``head`` holds after the turn ``after``.

    ``continues`` tells whether ``after`` lies on the chain; when it does not, the items are the whole
    chain. The tip head is ``None`` for an empty chain, and for the unnamed run of item lines after the
    last marker (its turn has no head until the next append names it).
    """
    turns: list[tuple[list[Item], int | None, str | None]] = []  # (items, index of the parent turn, head)
    by_head: dict[str, int] = {}
    run: list[Item] = []
    for record in records:
        if isinstance(record, TurnMarker):
            parent = by_head.get(record.parent) if record.parent is not None else None
            turns.append((run, parent, record.head))
            by_head[record.head] = len(turns) - 1
            run = []
        else:
            run.append(record)
    node: tuple[list[Item], int | None, str | None]
    if head is None:
        if run:
            node = (run, len(turns) - 1 if turns else None, None)
        elif turns:
            node = turns[-1]
        else:
            return None, False, []
    else:
        index = by_head.get(head)
        if index is None:
            return None, False, []
        node = turns[index]
    tip = node[2]
    parts: list[list[Item]] = []
    continues = False
    while True:
        if after is not None and node[2] == after:
            continues = True
            break
        parts.append(node[0])
        if node[1] is None:
            break
        node = turns[node[1]]
    return tip, continues, [item for part in reversed(parts) for item in part]


class BackwardChain:
    """Collects the latest ``limit`` items of a chain from records fed newest first.

    Start at the end of the file with ``head`` (``None``: the latest turn), or just before the
    marker of a known turn after :meth:`enter`. :meth:`feed` returns ``True`` when enough items
    were found or the chain's root turn is complete; while :attr:`skipping`, the lines read belong
    to other branches, and a reader that knows where the :attr:`wanted` turn's marker is may
    :meth:`enter` it there instead of reading on.
    """

    def __init__(self, head: str | None, limit: int) -> None:
        self.limit = limit
        self.found: list[Item] = []  # newest first
        self._latest = head is None  # the first marker met is on the chain
        self._collecting = self._latest
        self.wanted: str | None = head
        """The head of the next turn of the chain, going back (``None`` past the root)."""
        self._root = False

    @property
    def skipping(self) -> bool:
        """Reading lines that are not on the chain, looking for the :attr:`wanted` turn's marker."""
        return not self._collecting and self.wanted is not None

    def enter(self, parent: str | None) -> None:
        """Continue just before the marker of the :attr:`wanted` turn, whose parent is ``parent``."""
        self._latest = False
        self._collecting = True
        self.wanted = parent
        self._root = parent is None

    def feed(self, record: Record) -> bool:
        if not isinstance(record, TurnMarker):
            if self._collecting:
                self.found.append(record)
                return len(self.found) >= self.limit
            return False
        if self._root:  # the marker before the root turn's items: the chain is complete
            return True
        on_chain = self._latest or record.head == self.wanted
        self._latest = False
        self._collecting = on_chain
        if on_chain:
            self.wanted = record.parent
            self._root = record.parent is None
        return False

    def items(self) -> list[Item]:
        """The items found, oldest first."""
        return list(reversed(self.found))


class BackwardTail(BackwardChain):
    """Collects, from records fed newest first, the chain's items after the turn ``after``.

    It stops at ``after``'s marker when that turn lies on the chain (:attr:`continues`), else it
    collects the whole chain. :attr:`tip` names the chain's tip once known: ``head``, or for the
    latest turn the first marker met (``None`` when item lines follow the last marker).
    """

    def __init__(self, head: str | None, after: str | None) -> None:
        super().__init__(head, sys.maxsize)
        self.after = after
        self.tip: str | None = None
        self.continues = False
        self._head = head
        self._done = False

    def enter(self, parent: str | None) -> None:
        turn = self.wanted  # the turn whose marker the read now starts before
        if self._head is not None:
            self.tip = self._head  # its marker is in the file: the caller found it there
        super().enter(parent)
        if turn is not None and turn == self.after:
            self.continues = self._done = True

    def feed(self, record: Record) -> bool:
        if self._done:
            return True
        if isinstance(record, TurnMarker) and not self._root and (self._latest or record.head == self.wanted):
            if self._latest and not self.found:
                self.tip = record.head  # the latest turn, named by its marker
            elif self._head is not None and record.head == self._head:
                self.tip = record.head
            if record.head == self.after:
                self.continues = self._done = True
                return True
        return super().feed(record)
