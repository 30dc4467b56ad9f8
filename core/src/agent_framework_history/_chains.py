"""The turns of one session as a tree, with "is this id in the chain ending at H?" answered cheaply.

For backends that keep a session's turns in this process (memory, and jsonl's index of a file).

Turns are grouped into *branches*: a turn whose parent is the newest turn of its parent's branch
extends that branch; any other turn (a fork, or a root) starts a new branch whose ``base`` is its
parent. A turn ``T`` lies on the chain ending at ``H`` when, walking from ``H`` to the base of its
branch, then to that base's branch, and so on, we meet ``T``'s branch at a position at or after
``T``'s. A fork-free session is one branch, so the test costs O(1); in general it costs one step per
fork between ``H`` and ``T``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["ChainIndex", "Turn", "new_head"]


def new_head() -> str:
    """A fresh, random chain head: another session, partition or store never knows it."""
    return f"turn_{uuid.uuid4().hex}"


@dataclass(eq=False, slots=True)
class _Branch:
    base: Turn | None
    newest: Turn | None = None


@dataclass(eq=False, slots=True)
class Turn:
    """One recorded turn: its head, its parent turn and its place in the branch structure."""

    head: str
    parent: Turn | None
    branch: _Branch
    position: int

    def chain(self) -> Iterator[Turn]:
        """This turn, its parent, and so on up to the root."""
        turn: Turn | None = self
        while turn is not None:
            yield turn
            turn = turn.parent

    def descends_from(self, ancestor: Turn) -> bool:
        """Whether ``ancestor`` is this turn or one of its ancestors."""
        turn: Turn | None = self
        while turn is not None:
            if turn.branch is ancestor.branch:
                return ancestor.position <= turn.position
            turn = turn.branch.base
        return False


@dataclass(eq=False, slots=True)
class ChainIndex:
    """The turns of one session and the turns each item id was stored in."""

    turns: dict[str, Turn] = field(default_factory=lambda: {})
    latest: Turn | None = None
    """The most recently recorded turn (on any branch)."""
    _by_id: dict[str, list[Turn]] = field(default_factory=lambda: {})

    def get(self, head: str) -> Turn | None:
        return self.turns.get(head)

    def record(self, head: str, parent: Turn | None, ids: Iterable[str]) -> Turn:
        """Record a turn with ``parent`` (``None``: a root) holding the items ``ids``."""
        if parent is not None and parent.branch.newest is parent:
            branch, position = parent.branch, parent.position + 1
        else:
            branch, position = _Branch(base=parent), 0
        turn = Turn(head, parent, branch, position)
        branch.newest = turn
        self.turns[head] = turn
        self.latest = turn
        for item_id in ids:
            self._by_id.setdefault(item_id, []).append(turn)
        return turn

    def in_chain(self, item_id: str, tip: Turn | None) -> bool:
        """Whether ``item_id`` is stored in the chain ending at ``tip`` (``None``: the empty chain)."""
        if tip is None:
            return False
        holders = self._by_id.get(item_id)
        return holders is not None and any(tip.descends_from(turn) for turn in holders)
