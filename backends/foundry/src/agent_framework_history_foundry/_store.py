"""``FoundryHistoryStore``: histories kept as Foundry response chains, through the SDK's storage provider."""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, cast

from azure.ai.agentserver.responses import (
    FoundryResourceNotFoundError,
    FoundryStorageError,
    InMemoryResponseProvider,
    PlatformContext,
    ResponseProviderProtocol,
)
from azure.ai.agentserver.responses._id_generator import IdGenerator
from azure.ai.agentserver.responses.store import ResponseAlreadyExistsError
from cachetools import LRUCache

from agent_framework_history.backend import (
    AppendResult,
    Capability,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    SessionKey,
    current_request_context,
)

from ._envelope import (
    PARTITION_KEY,
    RESERVED_KEYS,
    Identity,
    Turn,
    build_turn,
    is_response_id,
    partition_tag,
    restore_item,
)
from ._errors import describe_storage_error

__all__ = ["FoundryHistoryStore"]

logger = logging.getLogger("agent_framework_history.foundry")

ALL_ITEMS: Final = -1
"""``get_history_item_ids`` limit meaning "the whole chain"."""

HOST_TURNS: Final = 256
"""Turns left to the host that are remembered (for loads inside their own request) at most."""

_Partition = tuple[str | None, str | None]
"""``(user, chat)``: what every in-process cache entry is keyed by, so one partition never answers another."""


def _partition(key: SessionKey) -> _Partition:
    return (key.user, key.chat)


def _digest(items: list[Item]) -> str:
    """A digest of the items' canonical JSON: equal only for the same content, ids and order."""
    canonical = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _ForeignChainError(Exception):
    """The chain holds items another partition (user / chat) wrote: it is not this session's."""


@dataclass
class _HostTurn:
    """What this process appended during one request whose turn the serving host stores itself."""

    parent: str | None
    items: list[Item] = field(default_factory=lambda: [])


class FoundryHistoryStore(HistoryStoreBase):
    """Stores each ``append`` as one Foundry response continuing the session's response chain.

    ``provider`` is any ``ResponseProviderProtocol`` object: the SDK's ``FoundryStorageProvider``
    in production, its ``InMemoryResponseProvider`` in tests. ``owned`` objects (the provider and
    credential the store created itself) are closed by :meth:`aclose`. Loaded items are the objects
    the provider returns (both SDK providers hand out fresh copies), with the original ids restored.

    The chain a call reads or continues is, in order: the ``previous_response_id`` bound with
    ``bind_request_context`` (the bound ``response_id`` names the new response); the ``head``
    argument; the latest head this store wrote for the same :class:`SessionKey` in this process;
    a session id that is itself a ``caresp_`` response id. Without any of these a load is empty
    and an append starts a new chain.

    ``host_stores``: the serving host writes each turn to this same storage itself (a Foundry
    container whose ``ResponsesHostServer`` keeps its default ``FoundryStorageProvider``). During a
    request for which the host publishes the id of the response it is writing
    (``current_request_context().host_response_id``), ``append`` then writes nothing and returns
    that id as the head, so the next turn reads the host's own chain: each turn is stored once.

    Storage errors (``FoundryStorageError``) while saving are logged, counted in
    :attr:`failed_writes` and swallowed, unless ``raise_on_write_error`` is true; transport and
    authentication errors, and answers that are not what the operation returns
    (``CorruptDataError``), always propagate.
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.CHAIN_HEAD, Capability.PERSISTENT})
    """With the SDK's ``InMemoryResponseProvider`` the store is not ``PERSISTENT``; see :attr:`capabilities`."""

    def __init__(
        self,
        provider: ResponseProviderProtocol,
        *,
        identity: Identity | None = None,
        raise_on_write_error: bool = False,
        owned: tuple[Any, ...] = (),
        cache_size: int = 4096,
        host_stores: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(provider, ResponseProviderProtocol):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"provider must implement ResponseProviderProtocol (e.g. FoundryStorageProvider or "
                f"InMemoryResponseProvider), got {type(provider).__name__}."
            )
        self._provider: Any = provider
        self.identity = identity if identity is not None else Identity()
        self.raise_on_write_error = raise_on_write_error
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}.")
        self._owned = owned
        self.host_stores = host_stores
        self._warned_no_host_id = False
        self._failed_writes = 0
        # In-process memory, keyed by the whole partition (user and chat) or the whole SessionKey,
        # so one user's or chat's entries never answer another's call.
        self._heads: LRUCache[SessionKey, str] = LRUCache(cache_size)
        self._chains: LRUCache[tuple[_Partition, str], tuple[str, ...]] = LRUCache(cache_size)
        self._originals: LRUCache[tuple[_Partition, str], str] = LRUCache(cache_size * 64)
        # Per bound request (its response id): the response each session wrote last, and which
        # session the bound response id went to (it names one response, so only the first session's).
        self._bound_tails: LRUCache[tuple[SessionKey, str], str] = LRUCache(cache_size)
        self._bound_owner: LRUCache[str, SessionKey] = LRUCache(cache_size)
        # Turns that failed in transit, resent byte for byte by a retry of the same session with the same items.
        self._pending: LRUCache[tuple[SessionKey, str | None, str], Turn] = LRUCache(cache_size)
        # Requests whose turn the host stores: host response id -> what this process appended meanwhile.
        # Only needed while a request runs, so a few hundred (requests in flight) are plenty.
        self._host_turns: LRUCache[tuple[_Partition, str], _HostTurn] = LRUCache(min(cache_size, HOST_TURNS))

    @property
    def capabilities(self) -> frozenset[Capability]:
        if isinstance(self._provider, InMemoryResponseProvider):
            return self.CAPABILITIES - {Capability.PERSISTENT}
        return self.CAPABILITIES

    @property
    def provider(self) -> ResponseProviderProtocol:
        """The SDK storage provider this store talks to."""
        provider: ResponseProviderProtocol = self._provider
        return provider

    @property
    def failed_writes(self) -> int:
        """Turns whose save failed with a storage error that was logged and swallowed."""
        return self._failed_writes

    # -- which chain ---------------------------------------------------------------------

    def _previous(self, key: SessionKey, head: str | None) -> str | None:
        bound = current_request_context()
        if bound.response_id is not None:
            tail = self._bound_tails.get((key, bound.response_id))
            if tail is not None:  # this request already wrote its response: continue after it
                return tail
        if bound.previous_response_id is not None:
            return bound.previous_response_id
        if head is not None:
            if not isinstance(head, str) or not is_response_id(head):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValueError(
                    f"head must be a 'caresp_…' response id returned by append(), got {head!r}; "
                    "pass None to start from the session's own chain."
                )
            return head
        remembered = self._heads.get(key)
        if remembered is not None:
            return remembered
        if is_response_id(key.session_id):
            return key.session_id
        return None

    def _new_response_id(self, key: SessionKey, previous: str | None) -> str:
        bound = current_request_context()
        if (
            bound.response_id is not None
            and self._bound_owner.get(bound.response_id, key) == key
            and (key, bound.response_id) not in self._bound_tails
        ):
            return bound.response_id
        return IdGenerator.new_response_id(previous or "")

    def _host_response_id(self) -> str | None:
        """The response the serving host writes for this request, when it stores the turn itself."""
        if not self.host_stores:
            return None
        host_id = current_request_context().host_response_id
        return host_id if host_id is not None and is_response_id(host_id) else None

    @staticmethod
    def _context(key: SessionKey) -> PlatformContext:
        return PlatformContext(user_id_key=key.user, call_id=current_request_context().call_id)

    # -- reading -------------------------------------------------------------------------

    async def _chain_ids(self, key: SessionKey, previous: str, context: PlatformContext) -> tuple[str, ...] | None:
        """Service ids of the whole chain ending at ``previous``; ``None`` when the service does not know it."""
        try:
            raw: Any = await self._provider.get_history_item_ids(previous, None, ALL_ITEMS, context=context)
        except FoundryResourceNotFoundError:
            return None
        except (ValueError, TypeError) as exc:  # the SDK's JSON decoding of a malformed body
            raise CorruptDataError(
                f"Foundry storage returned an unreadable history id list: {exc}", location=f"response {previous}"
            ) from exc
        if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):  # pyright: ignore[reportUnknownVariableType]
            raise CorruptDataError(
                f"Foundry storage returned {type(raw).__name__} instead of a list of item ids.",  # pyright: ignore[reportUnknownArgumentType]
                location=f"response {previous}",
            )
        ids: tuple[str, ...] = tuple(cast(list[str], raw))
        self._chains[(_partition(key), previous)] = ids
        return ids

    async def _fetch(self, key: SessionKey, ids: list[str], context: PlatformContext, where: str) -> list[Item]:
        """The items behind ``ids`` as appended (original ids back), skipping ids the service no longer has.

        Raises ``_ForeignChainError`` when an item this library wrote carries another partition's tag.
        """
        try:
            raw: Any = await self._provider.get_items(ids, context=context)
        except (ValueError, TypeError) as exc:
            raise CorruptDataError(f"Foundry storage returned unreadable items: {exc}", location=where) from exc
        if not isinstance(raw, list) or len(raw) != len(ids):  # pyright: ignore[reportUnknownArgumentType]
            raise CorruptDataError(
                f"Foundry storage answered a batch of {len(ids)} item ids with "
                f"{type(raw).__name__} of length {len(raw) if isinstance(raw, list) else '?'}.",  # pyright: ignore[reportUnknownArgumentType]
                location=where,
            )
        items: list[Item] = []
        learned: list[tuple[str, str]] = []
        tag = partition_tag(key.user, key.chat)
        for service_id, stored in zip(ids, raw, strict=True):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            if stored is None:
                logger.warning(
                    "Foundry storage no longer has item %s of %s; it is left out of the history.", service_id, where
                )
                continue
            if not isinstance(stored, dict):
                raise CorruptDataError(
                    f"Foundry storage returned {type(stored).__name__} for item {service_id}, not an object.",  # pyright: ignore[reportUnknownArgumentType]
                    location=where,
                )
            found: Any = cast(dict[str, Any], stored).get(PARTITION_KEY)
            if found is not None and found != tag:
                raise _ForeignChainError(f"item {service_id} of {where} belongs to another user or chat")
            item = restore_item(cast(dict[str, Any], stored))
            learned.append((service_id, str(item.get("id", service_id))))
            items.append(item)
        for service_id, original in learned:
            self._originals[(_partition(key), service_id)] = original
        return items

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        previous = self._previous(key, head)
        if previous is None:
            return []
        host_turn = self._host_turns.get((_partition(key), previous))
        if host_turn is not None and previous == current_request_context().host_response_id:
            # This request's own turn, which the host is still writing (its response may not exist
            # yet, or lack its output): the chain the request continued plus what it appended here.
            earlier = await self._do_load(key, None, host_turn.parent) if host_turn.parent is not None else []
            items = [*earlier, *(dict(item) for item in host_turn.items)]
            return items if limit is None else items[-limit:]
        context = self._context(key)
        ids = await self._chain_ids(key, previous, context)
        if not ids:
            return []
        wanted = list(ids if limit is None else ids[-limit:])
        try:
            return await self._fetch(key, wanted, context, f"chain {previous}")
        except _ForeignChainError as exc:
            logger.warning(
                "Not loading chain %s for session %r (user %r, chat %r): %s; the head names another conversation, "
                "so the history is empty.",
                previous,
                key.session_id,
                key.user,
                key.chat,
                exc,
            )
            return []

    async def _known_originals(
        self, key: SessionKey, previous: str, context: PlatformContext
    ) -> tuple[tuple[str, ...], set[str]] | None:
        """The chain's service ids and the original ids of its items; ``None`` when the chain is unknown.

        Raises ``_ForeignChainError`` when the chain is another partition's.
        """
        ids = self._chains.get((_partition(key), previous))
        if ids is None:
            ids = await self._chain_ids(key, previous, context)
            if ids is None:
                return None
        originals: set[str] = set()
        unknown: list[str] = []
        for service_id in ids:
            original = self._originals.get((_partition(key), service_id))
            if original is None:
                unknown.append(service_id)
            else:
                originals.add(original)
        if unknown:  # may raise _ForeignChainError
            originals.update(item["id"] for item in await self._fetch(key, unknown, context, f"chain {previous}"))
        return ids, originals

    # -- writing -------------------------------------------------------------------------

    def _write_failed(self, key: SessionKey, previous: str | None, exc: FoundryStorageError) -> AppendResult:
        self._failed_writes += 1
        logger.warning(
            "Foundry storage did not save a turn of session %r (user %r, after %s): %s. "
            "The turn is not in the history (failed writes so far: %d).",
            key.session_id,
            key.user,
            previous or "no earlier response",
            describe_storage_error(exc),
            self._failed_writes,
        )
        if self.raise_on_write_error:
            raise exc
        return AppendResult(stored=0, head=previous)

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        for index, item in enumerate(items):
            for reserved in RESERVED_KEYS:
                if reserved in item:
                    raise ValueError(
                        f"items[{index}] has the key {reserved!r}, which the foundry store reserves for its own "
                        "bookkeeping (the item's original id and partition); rename that key."
                    )
        previous = self._previous(key, head)
        host_id = self._host_response_id()
        if host_id is not None:
            return self._leave_to_host(key, items, previous, host_id)
        if self.host_stores and not self._warned_no_host_id:
            self._warned_no_host_id = True
            logger.warning(
                "The serving host stores each turn itself (host_stores), but did not publish the id of the response "
                "it writes for this request (the azure.ai.agentserver.response_id baggage entry; streamed requests "
                "do not carry it in azure-ai-agentserver-responses 2.4), so the history store writes this turn too: "
                "Foundry storage then holds it twice. Histories stay correct. (Logged once per store.)"
            )
        context = self._context(key)
        chain: tuple[str, ...] = ()
        if previous is not None:
            try:
                known = await self._known_originals(key, previous, context)
            except FoundryStorageError as exc:
                return self._write_failed(key, previous, exc)
            except _ForeignChainError as exc:
                known = None
                logger.warning(
                    "Not continuing chain %s for session %r (user %r, chat %r): %s; the turn starts a new chain.",
                    previous,
                    key.session_id,
                    key.user,
                    key.chat,
                    exc,
                )
            else:
                if known is None:
                    logger.warning(
                        "Foundry storage does not know response %s (session %r); the turn starts a new chain.",
                        previous,
                        key.session_id,
                    )
            if known is not None:
                chain, originals = known
                items = [item for item in items if item["id"] not in originals]
                if not items:
                    return AppendResult(stored=0, head=previous)
            continued = previous if known is not None else None
        else:
            continued = None
        item_ids = tuple(item["id"] for item in items)
        pending_key = (key, continued, _digest(items))
        # A turn that failed in transit is sent again byte for byte (same response and item ids) when
        # the same session retries the same items, so if the first attempt did land the service
        # answers "already exists" and nothing is doubled. Any other turn gets a response of its own.
        turn = self._pending.get(pending_key) or build_turn(
            items,
            response_id=self._new_response_id(key, continued),
            previous_response_id=continued,
            identity=self.identity,
            partition=partition_tag(key.user, key.chat),
        )
        response_id: str = turn.response["id"]
        landed_before = False
        try:
            await self._provider.create_response(turn.response, turn.input_items, list(chain), context=context)
        except ResponseAlreadyExistsError:
            landed_before = True
            logger.info("Response %s was already stored (a retried turn); treating the save as done.", response_id)
        except FoundryStorageError as exc:
            return self._write_failed(key, previous, exc)
        except BaseException:
            self._pending[pending_key] = turn
            raise
        self._pending.pop(pending_key, None)
        if not landed_before:  # after "already exists" the service's copy is the truth: read it next time
            stored_ids = turn.item_ids
            self._chains[(_partition(key), response_id)] = (*chain, *stored_ids)
            for service_id, original in zip(stored_ids, item_ids, strict=True):  # the split keeps the order
                self._originals[(_partition(key), service_id)] = original
        self._heads[key] = response_id
        bound = current_request_context()
        if bound.response_id is not None:
            self._bound_tails[(key, bound.response_id)] = response_id
            self._bound_owner.setdefault(bound.response_id, key)
        return AppendResult(stored=len(items), head=response_id)

    def _leave_to_host(self, key: SessionKey, items: list[Item], previous: str | None, host_id: str) -> AppendResult:
        """The host stores this request's turn itself: write nothing and name its response as the head."""
        slot = (_partition(key), host_id)
        host_turn = self._host_turns.get(slot)
        if host_turn is None:
            host_turn = self._host_turns[slot] = _HostTurn(parent=previous if previous != host_id else None)
        known = {item["id"] for item in host_turn.items}
        host_turn.items.extend(item for item in items if item["id"] not in known)
        self._heads[key] = host_id
        logger.debug(
            "Session %r: the host stores this turn as response %s (after %s); nothing written.",
            key.session_id,
            host_id,
            previous or "no earlier response",
        )
        return AppendResult(stored=0, head=host_id)

    async def _do_close(self) -> None:
        async with AsyncExitStack() as stack:
            for resource in reversed(self._owned):  # the stack closes them in the order given
                closer = getattr(resource, "aclose", None) or getattr(resource, "close", None)
                if closer is not None:
                    stack.push_async_callback(_call_closer, closer)


async def _call_closer(closer: Any) -> None:
    result = closer()
    if hasattr(result, "__await__"):
        await result
