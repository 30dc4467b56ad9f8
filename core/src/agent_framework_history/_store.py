"""The ``HistoryStore`` protocol every backend implements."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from ._keys import ALL, AllPartitions, SessionKey

__all__ = ["AppendResult", "Capability", "ChainTail", "HistoryStore", "Item", "SessionActivity"]

Item = dict[str, Any]
"""One Responses-API item (``{"type": ..., "id": ..., ...}``): the record every backend stores."""


class Capability(enum.StrEnum):
    """Optional operations a backend may offer; listed in ``HistoryStore.capabilities``."""

    LIST_SESSIONS = "list_sessions"
    """``list_sessions`` enumerates the stored sessions of a partition."""
    DELETE = "delete"
    """``delete`` removes a session's history."""
    CHAIN_HEAD = "chain_head"
    """A session is a chain of turns: every ``append`` returns the head of the turn it recorded,
    ``load(head=H)`` returns the chain ending at ``H`` and ``append(head=H)`` continues from ``H``
    (a fork when ``H`` is not the latest turn). Every first-party backend declares it."""
    LOAD_AFTER = "load_after"
    """``load_after`` reads only what follows a head the caller already has, in one read; without
    it, ``load_after`` (where the store has it) returns the whole chain every time."""
    PERSISTENT = "persistent"
    """Data outlives the process (files, databases, services)."""
    CONCURRENT_APPEND = "concurrent_append"
    """Concurrent ``append`` calls to one session all land (none is lost to a forked chain)."""
    MULTI_PROCESS = "multi_process"
    """Several processes may append to one session at once without losing or duplicating items."""
    ACTIVITY = "activity"
    """The store knows when each session was last appended to: ``list_activity`` yields it and
    ``prune`` removes the sessions idle since a given time (retention)."""
    CHECK = "check"
    """``check_storage`` inspects the store's own storage for damage a load passes over (a write cut
    short by a crash, a record that is not an item) and returns a typed ``StorageReport``."""
    REPAIR = "repair"
    """``check_storage(repair=True)`` also repairs what it safely can (the torn writes), and reports it."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one ``append`` did.

    ``stored`` counts items newly written (re-appended ids are not counted); ``head`` is an
    opaque chain head for stores with :attr:`Capability.CHAIN_HEAD` (``None`` elsewhere), to
    be handed back to ``load`` / the next ``append``. When nothing was new, no turn is recorded
    and ``head`` is the head the call continued.
    """

    stored: int
    head: str | None = None


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """A session and the time of its latest append (timezone-aware, UTC), from ``list_activity``."""

    key: SessionKey
    last_active: datetime


@dataclass(frozen=True, slots=True)
class ChainTail:
    """What one ``load_after(key, after, head=...)`` found.

    ``continues`` is ``True`` when ``after`` lies on the chain ending at ``head``: ``items`` are
    then the items stored after it, oldest first (``[]``: nothing new). It is ``False`` when
    ``after`` is ``None`` or does not lie on that chain (an unknown head, another session's or
    partition's, a deleted session's, a turn of another branch, or a store that cannot tell):
    ``items`` are then the whole chain, and nothing the caller kept for ``after`` may be reused.
    ``head`` is the head of the chain's tip (the ``head`` asked for, or the session's latest turn),
    ``None`` for an empty chain or when the store cannot name it.
    """

    items: list[Item]
    head: str | None
    continues: bool


@runtime_checkable
class HistoryStore(Protocol):
    """Asynchronous storage of conversation histories as Responses items.

    Rules every implementation keeps (the conformance kit checks them):

    - ``append`` stores one turn's items in order; an item whose ``id`` is already stored in
      that session is not stored again, and the cost is proportional to the items passed.
    - ``load`` returns items oldest first; ``limit=N`` gives the latest ``N`` (still oldest
      first) grown back to the nearest place a valid history may start: never inside a message,
      never a tool result without its call, a call without the reasoning before it, or an approval
      response without its request, so at least ``N`` items. ``0`` gives ``[]``, a negative limit
      raises ``ValueError``. ``HistoryStoreBase`` does the growing for every backend.
    - Sessions under different ``(user, chat)`` partitions never see each other.
    - With :attr:`Capability.CHAIN_HEAD`, a session is a chain of turns. ``append(key, items,
      head=H)`` records a turn whose parent is ``H`` and returns its head; an item whose id is
      already in the chain ending at ``H`` is not stored again (items of other branches are).
      ``load(key, head=H)`` returns the chain ending at ``H`` (``limit`` counts back along it).
      ``head=None`` means the session's latest turn. A head the session does not know (another
      session's, another partition's, a deleted session's) names an empty chain: ``load`` returns
      ``[]`` and ``append`` starts a new chain.
    - ``load_after(key, after, head=H)`` returns a :class:`ChainTail`: the items of the chain
      ending at ``H`` stored after the turn ``after`` when ``after`` lies on that chain, else the
      whole chain, saying which; with :attr:`Capability.LOAD_AFTER` in one read.
    - After ``aclose()`` every operation raises :class:`StoreClosedError`.
    """

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional operations this store offers."""
        ...

    async def append(self, key: SessionKey, items: Sequence[Item], *, head: str | None = None) -> AppendResult:
        """Store one turn's items at the end of the session."""
        ...

    async def load(self, key: SessionKey, *, limit: int | None = None, head: str | None = None) -> list[Item]:
        """Return the session's items, oldest first (the latest ``limit``, grown to a valid start, when given)."""
        ...

    async def load_after(self, key: SessionKey, after: str | None, *, head: str | None = None) -> ChainTail:
        """Return the items of the chain ending at ``head`` (the latest turn) that follow ``after``."""
        ...

    async def delete(self, key: SessionKey) -> bool:
        """Remove the session; ``True`` when something was removed."""
        ...

    def list_sessions(
        self,
        *,
        user: str | AllPartitions | None = None,
        chat: str | AllPartitions | None = None,
    ) -> AsyncIterator[SessionKey]:
        """Yield the sessions stored in one partition (``ALL`` widens a field)."""
        ...

    def list_activity(
        self,
        *,
        user: str | AllPartitions | None = None,
        chat: str | AllPartitions | None = None,
    ) -> AsyncIterator[SessionActivity]:
        """Yield the sessions of one partition with the time of their latest append (``ALL`` widens a field)."""
        ...

    async def prune(
        self,
        before: datetime,
        *,
        user: str | AllPartitions | None = ALL,
        chat: str | AllPartitions | None = ALL,
        dry_run: bool = False,
    ) -> list[SessionActivity]:
        """Remove the sessions last appended to before ``before`` (every partition unless narrowed).

        Returns what was removed (with ``dry_run``: what would be). A session appended to after it
        was listed is kept.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and files; calling it twice is harmless."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
