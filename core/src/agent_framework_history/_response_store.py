"""The hosting SDK's response store (``ResponseProviderProtocol``) over this project's backends.

``ResponsesHostServer`` and the SDK's ``ResponsesAgentServerHost`` keep their Responses transcript
in a *response provider*. :class:`ResponseStoreBase` implements that protocol's rules once —
partitioning by ``PlatformContext``, ``KeyError`` where the SDK's own stores raise it, cursor
pagination, history resolution — on top of a few primitives a backend implements on its own
tables. A backend stores a response as a turn of a conversation chain (the same chains the
``HistoryStore`` keeps), so what a host stored is what ``af-history`` lists, shows and exports.

Rules (those of the SDK's ``InMemoryResponseProvider``, which the differential tests compare with):

- every call is partitioned by ``context.user_id_key``; ``None`` (or no context) is the
  anonymous partition, apart from every named user; ``""`` is a partition of its own;
- ``create_response`` of an id that exists (and is not deleted) raises
  ``ResponseAlreadyExistsError``; items without an ``id`` are not stored;
- ``get_response`` / ``update_response`` / ``delete_response`` raise ``KeyError`` for an id that
  is missing or deleted; ``get_input_items`` raises ``KeyError`` when missing and ``ValueError``
  when deleted;
- ``get_history_item_ids(previous, conversation, limit)`` returns the previous response's history,
  input and output ids, then those of every response of the conversation, first occurrence kept;
  the latest ``limit`` (``-1``: all, ``0`` or less: none).
"""

from __future__ import annotations

import abc
import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from ._closing import AsyncClosing
from ._errors import StoreClosedError
from ._json import clone_json
from ._keys import SessionKey
from ._store import Item

if TYPE_CHECKING:
    from azure.ai.agentserver.responses import PlatformContext

__all__ = [
    "EMPTY_USER_CHAT",
    "Chain",
    "NewResponse",
    "ResponseRow",
    "ResponseStoreBase",
    "check_response_id",
    "conversation_of",
    "output_items",
    "partition_of",
]

EMPTY_USER_CHAT: Final = "~empty-user"
"""The ``chat`` that keeps ``user_id_key=""`` apart: ``SessionKey`` has no empty user, so that
partition is stored as ``(user=None, chat="~empty-user")``, apart from the anonymous ``(None, None)``."""

SERVED_KEPT: Final = 64
"""Chains ``get_history_item_ids`` answered that a store remembers, to spare re-checking the history a host
passes back to ``create_response`` (the host serves many conversations at once)."""

MAX_PAGE: Final = 100
"""``get_input_items`` returns at most this many items per call (the SDK clamps ``limit`` to 1..100)."""


def partition_of(context: PlatformContext | None) -> tuple[str | None, str | None]:
    """The ``(user, chat)`` partition a call's ``PlatformContext`` names."""
    user = getattr(context, "user_id_key", None) if context is not None else None
    if user is None:
        return (None, None)
    if not isinstance(user, str):
        raise ValueError(f"PlatformContext.user_id_key must be a string or None, got {type(user).__name__}.")
    if user == "":
        return (None, EMPTY_USER_CHAT)
    SessionKey("check", user=user)  # the same rules as every stored key
    return (user, None)


def check_response_id(value: object, what: str = "response id") -> str:
    """``value`` when it is a usable id (a non-empty string without NUL), else ``ValueError``."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"{what} must be a non-empty string without NUL characters, got {value!r}.")
    return value


def _check_ids(ids: Iterable[object] | None, what: str) -> list[str]:
    """``ids`` as a list of usable ids (a host hands over whole chains per call, so the usual case is one join).

    The join fails on anything but strings, and a NUL in any id is a NUL in the joined text; only a
    list that fails these (or holds an empty id) is looked at id by id, to name the culprit.
    """
    checked = list(ids or ())
    try:
        clean = "\x00" not in "".join(cast("list[str]", checked))  # the join refuses what is not a str
    except TypeError:
        clean = False
    if not clean or not all(checked):
        bad = next(i for i in checked if type(i) is not str or not i or "\x00" in i)
        raise ValueError(f"{what} must hold non-empty strings without NUL characters, got {bad!r}.")
    return cast("list[str]", checked)  # all strings: the join took them


def _item_id(item: object) -> str | None:
    value = cast(Mapping[str, Any], item).get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
    return value if isinstance(value, str) and value else None


def _as_items(items: Iterable[object] | None, what: str) -> list[Item]:
    """Deep copies of the items that carry an id (the SDK's stores skip the others)."""
    kept: list[Item] = []
    for index, item in enumerate(items or ()):
        if _item_id(item) is None:
            continue
        if not isinstance(item, Mapping):
            raise ValueError(f"{what}[{index}] must be a dict (a Responses item), got {type(item).__name__}.")
        kept.append(clone_json(dict(cast(Mapping[str, Any], item)), f"{what}[{index}]"))
    return kept


def output_items(response: Mapping[str, Any]) -> list[Item]:
    """The response's ``output`` items that carry an id, deep-copied."""
    output = response.get("output")
    if not isinstance(output, list):
        return []
    return _as_items(cast(list[object], output), "response.output")


def conversation_of(response: Mapping[str, Any]) -> str | None:
    """The conversation id of a response (``conversation`` as a string or ``{"id": ...}``)."""
    conversation = response.get("conversation")
    if isinstance(conversation, str):
        return conversation or None
    if isinstance(conversation, Mapping):
        value = cast(Mapping[str, Any], conversation).get("id")
        return str(value) if value else None
    return None


@dataclass(frozen=True, slots=True)
class NewResponse:
    """What ``create_response`` hands a backend (validated and deep-copied)."""

    response_id: str
    envelope: Item
    previous_response_id: str | None
    conversation_id: str | None
    history_ids: list[str]
    inputs: list[Item]
    outputs: list[Item]
    history_of: Chain | None = None
    """The chain whose unique ids ``history_ids`` are, when this store handed that chain out (``None``: unknown)."""


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """A stored response as a backend reads it back."""

    response_id: str
    envelope: Item | None
    deleted: bool
    history_ids: list[str] = field(default_factory=lambda: [])
    input_ids: list[str] = field(default_factory=lambda: [])
    output_ids: list[str] = field(default_factory=lambda: [])

    @property
    def chain_ids(self) -> list[str]:
        """History, input and output ids: what ``get_history_item_ids`` continues from."""
        return [*self.history_ids, *self.input_ids, *self.output_ids]


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


_NO_REPEAT: Final = sys.maxsize


class _Run:
    """An append-only list of ids shared by a chain and the chains that continue it.

    ``seen`` holds every id of the list and ``repeat`` the index of the first id that occurred
    earlier in it, so a prefix knows whether it holds an id twice without reading itself.
    """

    __slots__ = ("ids", "repeat", "seen")

    def __init__(self, ids: Sequence[str] = ()) -> None:
        self.ids: list[str] = []
        self.seen: set[str] = set()
        self.repeat = _NO_REPEAT
        self.add(ids)

    def add(self, ids: Iterable[str]) -> None:
        for item_id in ids:
            if item_id in self.seen:
                if self.repeat == _NO_REPEAT:
                    self.repeat = len(self.ids)
            else:
                self.seen.add(item_id)
            self.ids.append(item_id)


@dataclass(frozen=True, slots=True)
class Chain:
    """A response's history, input and output ids: the first ``length`` ids of a run.

    A chain continued by its own end (the host's every turn) extends the run in place, so the
    chain of turn *n + 1* costs the ids it adds, not a copy of the *n* before; only a fork (a
    continuation of a chain the run has already grown past) copies. Chains are immutable: a
    run only ever grows past their end, so any thread may read a chain while another extends
    its run; extending is for one thread at a time (a store's worker, or its event loop).
    """

    run: _Run
    length: int

    @classmethod
    def of(cls, ids: Sequence[str]) -> Chain:
        """A chain holding ``ids`` (in a run of its own)."""
        return cls(_Run(ids), len(ids))

    def __len__(self) -> int:
        return self.length

    @property
    def unique(self) -> bool:
        """Whether the chain holds no id twice."""
        return self.run.repeat >= self.length

    @property
    def last(self) -> str | None:
        return self.run.ids[self.length - 1] if self.length else None

    def ids(self) -> list[str]:
        """The ids, in order (a new list)."""
        return self.run.ids[: self.length]

    def unique_ids(self) -> list[str]:
        """The ids with each kept at its first occurrence (a new list): what ``get_history_item_ids`` answers."""
        return self.ids() if self.unique else _unique(self.run.ids[: self.length])

    def is_unique_ids(self, history: Sequence[str]) -> bool:
        """Whether ``history`` is exactly :meth:`unique_ids` (the history a host passes after reading this chain)."""
        if not self.unique:
            return list(history) == self.unique_ids()
        if len(history) != self.length or not self.length or history[-1] != self.run.ids[self.length - 1]:
            return not history and not self.length
        ids = self.run.ids
        return (ids if len(ids) == self.length else ids[: self.length]) == list(history)

    def ends_with(self, history: Sequence[str]) -> bool:
        """Whether ``history`` is the end of :meth:`unique_ids` and ends with this chain's last id.

        The histories a host passes after reading this chain (whole, or shortened with ``limit``); a
        chain whose last id repeats an earlier one answers ``False``, which only costs its continuations
        an explicitly stored history.
        """
        if not history or not self.length or history[-1] != self.run.ids[self.length - 1]:
            return False
        if self.is_unique_ids(history):
            return True
        unique = self.unique_ids()
        return len(history) <= len(unique) and unique[len(unique) - len(history) :] == list(history)

    def tail(self, length: int) -> Chain:
        """The last ``length`` of :meth:`unique_ids` (the history a continuation was given) as a chain."""
        if length >= self.length and self.unique:
            return self
        unique = self.unique_ids()
        return Chain.of(unique[max(0, len(unique) - length) :] if length > 0 else [])

    def extend(self, more: Sequence[str]) -> Chain:
        """This chain followed by ``more``: in place at the end of the run, else (a fork) on a copy."""
        run = self.run
        if len(run.ids) != self.length:
            run = _Run(run.ids[: self.length])
        run.add(more)
        return Chain(run, self.length + len(more))


class ResponseStoreBase(AsyncClosing, abc.ABC):
    """``ResponseProviderProtocol`` on a backend's primitives; the ``_do_*`` methods receive clean arguments.

    ``partition`` arguments are ``(user, chat)`` pairs from :func:`partition_of`.
    """

    def __init__(self) -> None:
        self._closed = False
        self._served: OrderedDict[str, Chain] = OrderedDict()
        """The chains ``get_history_item_ids`` answered lately, by last id: a history equal to one needs no check."""

    def _check_open(self, operation: str) -> None:
        if self._closed:
            raise StoreClosedError(f"{type(self).__name__}.{operation}() was called after aclose().")

    # -- the protocol ----------------------------------------------------------------------

    async def create_response(
        self,
        response: Any,
        input_items: Iterable[Any] | None,
        history_item_ids: Iterable[str] | None,
        *,
        context: PlatformContext | None = None,
    ) -> None:
        self._check_open("create_response")
        if not isinstance(response, Mapping):
            raise ValueError(f"response must be a dict (a Responses object), got {type(response).__name__}.")
        envelope = clone_json(dict(cast(Mapping[str, Any], response)), "response")
        response_id = check_response_id(envelope.get("id"), "response['id']")
        previous = envelope.get("previous_response_id")
        history = list(history_item_ids or ())
        served = self._served.get(history[-1]) if history and type(history[-1]) is str else None
        if served is None or not served.is_unique_ids(history):  # ids this store gave out are clean already
            history, served = _check_ids(history, "history_item_ids"), None
        new = NewResponse(
            response_id=response_id,
            envelope=envelope,
            previous_response_id=previous if isinstance(previous, str) and previous else None,
            conversation_id=conversation_of(envelope),
            history_ids=history,
            inputs=_as_items(input_items, "input_items"),
            outputs=output_items(envelope),
            history_of=served,
        )
        await self._do_create(partition_of(context), new)

    async def get_response(self, response_id: str, *, context: PlatformContext | None = None) -> Any:
        self._check_open("get_response")
        row = await self._do_row(partition_of(context), check_response_id(response_id))
        if row is None or row.deleted or row.envelope is None:
            raise KeyError(f"response '{response_id}' not found")
        return row.envelope

    async def update_response(self, response: Any, *, context: PlatformContext | None = None) -> None:
        self._check_open("update_response")
        if not isinstance(response, Mapping):
            raise ValueError(f"response must be a dict (a Responses object), got {type(response).__name__}.")
        envelope = clone_json(dict(cast(Mapping[str, Any], response)), "response")
        response_id = check_response_id(envelope.get("id"), "response['id']")
        if not await self._do_update(partition_of(context), response_id, envelope, output_items(envelope)):
            raise KeyError(f"response '{response_id}' not found")

    async def delete_response(self, response_id: str, *, context: PlatformContext | None = None) -> None:
        self._check_open("delete_response")
        if not await self._do_delete(partition_of(context), check_response_id(response_id)):
            raise KeyError(f"response '{response_id}' not found")

    async def get_input_items(
        self,
        response_id: str,
        limit: int = 20,
        ascending: bool = False,
        after: str | None = None,
        before: str | None = None,
        *,
        context: PlatformContext | None = None,
    ) -> list[Any]:
        self._check_open("get_input_items")
        partition = partition_of(context)
        row = await self._do_row(partition, check_response_id(response_id))
        if row is None:
            raise KeyError(f"response '{response_id}' not found")
        if row.deleted:
            raise ValueError(f"response '{response_id}' has been deleted")
        ids = [*row.history_ids, *row.input_ids]
        ordered = ids if ascending else ids[::-1]
        if after is not None and after in ordered:
            ordered = ordered[ordered.index(after) + 1 :]
        if before is not None and before in ordered:
            ordered = ordered[: ordered.index(before)]
        page = ordered[: max(1, min(MAX_PAGE, int(limit)))]
        return [item for item in await self._do_items(partition, page) if item is not None]

    async def get_items(self, item_ids: Iterable[str], *, context: PlatformContext | None = None) -> list[Any]:
        self._check_open("get_items")
        ids = _check_ids(item_ids, "item_ids")
        if not ids:
            return []
        found = await self._do_items(partition_of(context), ids)
        return list(found)

    async def get_history_item_ids(
        self,
        previous_response_id: str | None,
        conversation_id: str | None,
        limit: int,
        *,
        context: PlatformContext | None = None,
    ) -> list[str]:
        self._check_open("get_history_item_ids")
        partition = partition_of(context)
        resolved: list[str] = []
        if previous_response_id is not None:
            check_response_id(previous_response_id, "previous_response_id")
            if conversation_id is None:  # the host's every turn: one chain, often already free of repeats
                chain = await self._do_chain(partition, previous_response_id)
                if chain is None:
                    return []
                self._remember_served(chain)
                unique = chain.unique_ids()
                return unique if limit == -1 else ([] if limit <= 0 else unique[-limit:])
            row = await self._do_row(partition, previous_response_id)
            if row is not None and not row.deleted:
                resolved.extend(row.chain_ids)
        if conversation_id is not None:
            for row in await self._do_conversation(partition, check_response_id(conversation_id, "conversation id")):
                if not row.deleted:
                    resolved.extend(row.chain_ids)
        unique = _unique(resolved)
        if limit == -1:
            return unique
        if limit <= 0:
            return []
        return unique[-limit:]

    def _remember_served(self, chain: Chain) -> None:
        last = chain.last
        if last is None:
            return
        self._served[last] = chain
        self._served.move_to_end(last)
        if len(self._served) > SERVED_KEPT:
            self._served.popitem(last=False)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._do_close()

    # -- what a backend implements -----------------------------------------------------------

    @abc.abstractmethod
    async def _do_create(self, partition: tuple[str | None, str | None], new: NewResponse) -> None:
        """Store a new response; raise ``ResponseAlreadyExistsError`` when the id exists and is not deleted."""

    @abc.abstractmethod
    async def _do_row(self, partition: tuple[str | None, str | None], response_id: str) -> ResponseRow | None:
        """The stored response (deleted ones too), or ``None``."""

    async def _do_chain(self, partition: tuple[str | None, str | None], response_id: str) -> Chain | None:
        """The response's chain of ids (``None`` when missing or deleted); a backend may answer it faster."""
        row = await self._do_row(partition, response_id)
        return None if row is None or row.deleted else Chain.of(row.chain_ids)

    @abc.abstractmethod
    async def _do_update(
        self, partition: tuple[str | None, str | None], response_id: str, envelope: Item, outputs: list[Item]
    ) -> bool:
        """Replace the envelope and the output items; ``False`` when missing or deleted."""

    @abc.abstractmethod
    async def _do_delete(self, partition: tuple[str | None, str | None], response_id: str) -> bool:
        """Mark the response deleted; ``False`` when missing or already deleted."""

    @abc.abstractmethod
    async def _do_items(self, partition: tuple[str | None, str | None], item_ids: Sequence[str]) -> list[Item | None]:
        """The latest stored item of each id in the partition (``None`` for a miss), in request order."""

    @abc.abstractmethod
    async def _do_conversation(
        self, partition: tuple[str | None, str | None], conversation_id: str
    ) -> list[ResponseRow]:
        """The responses created in the conversation, oldest first."""

    async def _do_close(self) -> None:
        """Release resources; called once."""
