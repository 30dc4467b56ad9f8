"""A base class that does the argument checking and bookkeeping every backend needs."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Self, cast

from ._closing import AsyncClosing
from ._errors import InvalidArgumentError, StoreClosedError, UnsupportedOperationError
from ._json import MAX_INT, NonFiniteError, clone_json
from ._keys import ALL, AllPartitions, SessionKey, check_partition_value
from ._nonfinite import check_marker, decode_items, stored_form
from ._storage_check import StorageReport
from ._store import AppendResult, Capability, ChainTail, Item, SessionActivity
from ._windows import window_start

WINDOW_SLACK = 4
"""Items a limited load reads beyond ``limit`` at first: the item before the window (which says whether the
window may start there) and a few more, so a window that grows back a little still costs one read."""

__all__ = [
    "HistoryStoreBase",
    "check_before",
    "check_head",
    "check_items",
    "check_key",
    "check_limit",
    "unique_items",
]


def check_key(key: object) -> SessionKey:
    """Return ``key`` when it is a :class:`SessionKey`, else raise :class:`InvalidArgumentError`."""
    if not isinstance(key, SessionKey):
        raise InvalidArgumentError(
            f"Expected a SessionKey, got {type(key).__name__} {key!r}; "
            "build one with SessionKey(session_id, user=..., chat=...)."
        )
    return key


def check_head(head: object) -> str | None:
    """Return a valid chain head (``None`` or a non-empty string), else raise :class:`InvalidArgumentError`."""
    if head is None or (isinstance(head, str) and head):
        return head
    raise InvalidArgumentError(
        f"head must be None or a chain head string returned by append() (AppendResult.head), "
        f"got {type(head).__name__} {head!r:.80}."
    )


def check_before(before: object) -> datetime:
    """Return ``before`` when it is a timezone-aware ``datetime``, else raise :class:`InvalidArgumentError`."""
    if not isinstance(before, datetime):
        raise InvalidArgumentError(
            f"before must be a datetime, got {type(before).__name__} {before!r:.80}; "
            "for example datetime.now(UTC) - timedelta(days=90)."
        )
    if before.tzinfo is None or before.utcoffset() is None:
        raise InvalidArgumentError(
            f"before must be timezone-aware (a naive datetime is ambiguous), got {before!r}; "
            "use datetime.now(UTC) - timedelta(...) or give it a tzinfo."
        )
    return before


def check_limit(limit: object) -> int | None:
    """Return a valid ``load`` limit (``None`` or an int >= 0), else raise :class:`InvalidArgumentError`.

    A limit beyond any 64-bit count means "everything" and becomes ``None``.
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgumentError(f"limit must be None or a non-negative int, got {type(limit).__name__} {limit!r}.")
    if limit < 0:
        raise InvalidArgumentError(f"limit must be None or >= 0, got {limit}.")
    if limit > MAX_INT:  # more items than any store can hold: all of them (and no 64-bit overflow in a driver)
        return None
    return limit


def check_items(items: object) -> list[Item]:
    """Validate one turn's items and return deep copies the caller can no longer change.

    Every item must be a dict with a non-empty string ``type`` and ``id`` (without NUL characters:
    backends keep ids in text columns, which cannot hold NUL), holding only what
    :func:`~agent_framework_history.backend.clone_json` accepts. This is the one check that decides, for every
    backend, which items can be stored; an :class:`InvalidArgumentError` (a ``ValueError``) names the item's
    index and the JSON path.

    NaN and ±Infinity are accepted: the copy holds them in the encoded form every backend stores
    (the word as a string, the paths under ``af_nonfinite``), which ``HistoryStoreBase.load`` reads
    back as the numbers. An item already in that form is checked and kept as it is.
    """
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes, dict)):
        raise InvalidArgumentError(f"items must be a sequence of item dicts, got {type(items).__name__}.")
    checked: list[Item] = []
    for index, item in enumerate(cast("Sequence[object]", items)):  # what the caller passed: each one is checked
        if not isinstance(item, dict):
            raise InvalidArgumentError(f"items[{index}] must be a dict, got {type(item).__name__}.")
        typed = cast("dict[str, Any]", item)  # clone_json below checks its keys are strings
        item_type = typed.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise InvalidArgumentError(f"items[{index}] needs a non-empty string 'type', got {item_type!r}.")
        item_id = typed.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise InvalidArgumentError(
                f"items[{index}] (type {item_type!r}) needs a non-empty string 'id', got {item_id!r}; "
                "agent_framework_history.conversion.to_items gives every item one."
            )
        if "\x00" in item_id:
            raise InvalidArgumentError(
                f"items[{index}].id {item_id!r:.80} contains a NUL character; ids are kept in text columns, "
                "which cannot hold NUL. Remove it from the id."
            )
        where = f"items[{index}]"
        try:
            try:
                copied = clone_json(typed, where)
            except NonFiniteError:
                copied = clone_json(stored_form(typed), where)
            check_marker(copied, where)  # an item already in the stored form: its paths must be valid
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
        checked.append(copied)
    return checked


def unique_items(items: Sequence[Item], stored_ids: set[str] | frozenset[str] = frozenset()) -> list[Item]:
    """Drop items whose id is in ``stored_ids`` or repeats an earlier item of the batch."""
    seen: set[str] = set()
    fresh: list[Item] = []
    for item in items:
        item_id: str = item["id"]
        if item_id in stored_ids or item_id in seen:
            continue
        seen.add(item_id)
        fresh.append(item)
    return fresh


class HistoryStoreBase(AsyncClosing, abc.ABC):
    """Implements the public ``HistoryStore`` surface on top of a few ``_do_*`` methods.

    Subclasses receive validated keys, limits and deep-copied items, and never see calls
    after ``aclose()``. They set :attr:`CAPABILITIES` and implement the ``_do_*`` methods for
    the operations they offer; the defaults raise :class:`UnsupportedOperationError`.

    Opening: building a store does no I/O. A store that has something to open (a file, a pool)
    opens it on first use, off the event loop, and overrides :meth:`_do_open` so that
    ``await store.open()`` (and ``async with store``) opens it now and surfaces its errors there.
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self) -> None:
        self._closed = False

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.CAPABILITIES

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self, operation: str) -> None:
        if self._closed:
            raise StoreClosedError(
                f"{type(self).__name__}.{operation}() was called after aclose(); open a new store with open_store()."
            )

    async def append(self, key: SessionKey, items: Sequence[Item], *, head: str | None = None) -> AppendResult:
        self._check_open("append")
        key = check_key(key)
        head = check_head(head)
        checked = check_items(items)
        if not checked:  # nothing to record: the head the caller continues stays what it was
            return AppendResult(stored=0, head=head)
        return await self._do_append(key, unique_items(checked), head)

    async def load(self, key: SessionKey, *, limit: int | None = None, head: str | None = None) -> list[Item]:
        self._check_open("load")
        key = check_key(key)
        head = check_head(head)
        checked_limit = check_limit(limit)
        if checked_limit == 0:
            return []
        if checked_limit is None:
            return decode_items(await self._do_load(key, None, head))
        return decode_items(await self._load_window(key, checked_limit, head))

    async def _load_window(self, key: SessionKey, limit: int, head: str | None) -> list[Item]:
        """The latest ``limit`` items grown back to a group boundary (see ``_windows``), reading O(window).

        Reads a little more than ``limit``, then four times more each time the window starts
        before what was read, so the items read stay proportional to the window.
        """
        fetch: int | None = limit + WINDOW_SLACK
        while True:
            items = await self._do_load(key, fetch, head)
            complete = fetch is None or len(items) < fetch
            start = window_start(items, limit, complete=complete)
            if start is not None:
                return items[start:] if start else items
            assert fetch is not None  # a complete read always has a start
            fetch = fetch * 4 if fetch * 4 <= MAX_INT else None

    async def load_after(self, key: SessionKey, after: str | None, *, head: str | None = None) -> ChainTail:
        self._check_open("load_after")
        key = check_key(key)
        after = check_head(after)
        head = check_head(head)
        tail = await self._do_load_after(key, after, head)
        return ChainTail(decode_items(tail.items), tail.head, tail.continues)

    async def delete(self, key: SessionKey) -> bool:
        self._check_open("delete")
        return await self._do_delete(check_key(key))

    async def list_sessions(
        self,
        *,
        user: str | AllPartitions | None = None,
        chat: str | AllPartitions | None = None,
    ) -> AsyncIterator[SessionKey]:
        self._check_open("list_sessions")
        check_partition_value("user", user)
        check_partition_value("chat", chat)
        async for key in self._do_list_sessions(user, chat):
            yield key

    async def list_activity(
        self,
        *,
        user: str | AllPartitions | None = None,
        chat: str | AllPartitions | None = None,
    ) -> AsyncIterator[SessionActivity]:
        self._check_open("list_activity")
        check_partition_value("user", user)
        check_partition_value("chat", chat)
        async for activity in self._do_list_activity(user, chat):
            yield activity

    async def prune(
        self,
        before: datetime,
        *,
        user: str | AllPartitions | None = ALL,
        chat: str | AllPartitions | None = ALL,
        dry_run: bool = False,
    ) -> list[SessionActivity]:
        self._check_open("prune")
        before = check_before(before)
        check_partition_value("user", user)
        check_partition_value("chat", chat)
        stale = [a async for a in self._do_list_activity(user, chat) if a.last_active < before]
        if dry_run:
            return stale
        return [activity for activity in stale if await self._do_delete_idle(activity.key, before)]

    async def check_storage(self, *, repair: bool = False) -> StorageReport:
        """Inspect the store's own storage for damage a load passes over (:attr:`Capability.CHECK`).

        With ``repair``, also repair what can be repaired safely and report it (:attr:`Capability.REPAIR`).
        """
        self._check_open("check_storage")
        if Capability.CHECK not in self.capabilities:
            raise UnsupportedOperationError(f"{type(self).__name__} cannot inspect its own storage.")
        if repair and Capability.REPAIR not in self.capabilities:
            raise UnsupportedOperationError(f"{type(self).__name__} cannot repair its storage.")
        return await self._do_check_storage(repair)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._do_close()

    async def open(self) -> Self:
        """Open the store now (its file, its connection pool, …) rather than on first use; returns the store.

        Errors of a missing, damaged or unreachable store are raised here. Calling it again when the
        store is open does nothing; after a failure it tries again. It never blocks the event loop.
        """
        self._check_open("open")
        await self._do_open()
        return self

    async def __aenter__(self) -> Self:
        """Open the store (see :meth:`open`); a store that fails to open is closed again before the error."""
        self._check_open("__aenter__")
        try:
            await self._do_open()
        except BaseException:
            await self.aclose()
            raise
        return self

    # -- what a backend implements ---------------------------------------------------------

    @abc.abstractmethod
    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        """Store ``items`` (validated, copied, unique within the batch) unless their id is stored."""

    @abc.abstractmethod
    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        """Return the latest ``limit`` items (all when ``None``; never called with 0), oldest first.

        Exactly the latest ``limit``: ``load`` asks for a few more and grows the window itself.
        """

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        """The items of the chain ending at ``head`` after the turn ``after`` (see :class:`ChainTail`).

        This default cannot tell where ``after`` lies, nor name the tip: it reads the whole chain
        with ``_do_load`` and says so (``continues=False``, ``head=None``). A store that can read
        a chain's tail in one read overrides it and declares :attr:`Capability.LOAD_AFTER`.
        """
        items = await self._do_load(key, None, head)
        return ChainTail(items=items, head=None, continues=False)

    async def _do_delete(self, key: SessionKey) -> bool:
        raise UnsupportedOperationError(f"{type(self).__name__} cannot delete sessions.")

    def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        raise UnsupportedOperationError(f"{type(self).__name__} cannot list sessions.")

    def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        """Yield the sessions holding items with the time of their latest append (:attr:`Capability.ACTIVITY`)."""
        raise UnsupportedOperationError(f"{type(self).__name__} does not know when its sessions were last used.")

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        """Remove the session only if its latest append is older than ``before``, in one step (no append between)."""
        raise UnsupportedOperationError(f"{type(self).__name__} does not know when its sessions were last used.")

    async def _do_open(self) -> None:
        """Open what the store needs (idempotent; may be called concurrently); by default there is nothing to open."""

    async def _do_check_storage(self, repair: bool) -> StorageReport:
        """What is damaged in the storage (and, with ``repair``, what was repaired); :attr:`Capability.CHECK`."""
        raise UnsupportedOperationError(f"{type(self).__name__} cannot inspect its own storage.")

    async def _do_close(self) -> None:
        """Release resources; called once."""
