"""``FoundryHistoryStore``: histories kept as Foundry response chains, through the SDK's storage provider."""

from __future__ import annotations

import logging
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

from agent_framework_history import (
    AppendResult,
    Capability,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    SessionKey,
    current_request_context,
)

from ._cache import LruMap
from ._envelope import ORIGINAL_ID_KEY, Identity, Turn, build_turn, is_response_id, restore_item
from ._errors import describe_storage_error

__all__ = ["FoundryHistoryStore"]

logger = logging.getLogger("agent_framework_history.foundry")

ALL_ITEMS: Final = -1
"""``get_history_item_ids`` limit meaning "the whole chain"."""

_User = str | None


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

    Storage errors (``FoundryStorageError``) while saving are logged, counted in
    :attr:`failed_writes` and swallowed, unless ``raise_on_write_error`` is true; transport and
    authentication errors always propagate.
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
        self._owned = owned
        self._failed_writes = 0
        # In-process memory, always keyed by user so one user's cache never answers another's call.
        self._heads: LruMap[SessionKey, str] = LruMap(cache_size)
        self._chains: LruMap[tuple[_User, str], tuple[str, ...]] = LruMap(cache_size)
        self._originals: LruMap[tuple[_User, str], str] = LruMap(cache_size * 64)
        self._bound_tails: LruMap[tuple[_User, str], str] = LruMap(cache_size)
        self._pending: LruMap[tuple[_User, str | None, tuple[str, ...]], Turn] = LruMap(cache_size)

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
            tail = self._bound_tails.get((key.user, bound.response_id))
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
        if bound.response_id is not None and (key.user, bound.response_id) not in self._bound_tails:
            return bound.response_id
        return IdGenerator.new_response_id(previous or "")

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
        self._chains.put((key.user, previous), ids)
        return ids

    async def _fetch(self, key: SessionKey, ids: list[str], context: PlatformContext, where: str) -> list[Item]:
        """The items behind ``ids`` as appended (original ids back), skipping ids the service no longer has."""
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
            item = restore_item(stored)  # pyright: ignore[reportUnknownArgumentType]
            self._originals.put((key.user, service_id), str(item.get("id", service_id)))
            items.append(item)
        return items

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        previous = self._previous(key, head)
        if previous is None:
            return []
        context = self._context(key)
        ids = await self._chain_ids(key, previous, context)
        if not ids:
            return []
        wanted = list(ids if limit is None else ids[-limit:])
        return await self._fetch(key, wanted, context, f"chain {previous}")

    async def _known_originals(
        self, key: SessionKey, previous: str, context: PlatformContext
    ) -> tuple[tuple[str, ...], set[str]] | None:
        """The chain's service ids and the original ids of its items; ``None`` when the chain is unknown."""
        ids = self._chains.get((key.user, previous))
        if ids is None:
            ids = await self._chain_ids(key, previous, context)
            if ids is None:
                return None
        originals: set[str] = set()
        unknown: list[str] = []
        for service_id in ids:
            original = self._originals.get((key.user, service_id))
            if original is None:
                unknown.append(service_id)
            else:
                originals.add(original)
        if unknown:
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
            if ORIGINAL_ID_KEY in item:
                raise ValueError(
                    f"items[{index}] has the key {ORIGINAL_ID_KEY!r}, which the foundry store reserves for the "
                    "item's original id; rename that key."
                )
        previous = self._previous(key, head)
        context = self._context(key)
        chain: tuple[str, ...] = ()
        if previous is not None:
            try:
                known = await self._known_originals(key, previous, context)
            except FoundryStorageError as exc:
                return self._write_failed(key, previous, exc)
            if known is None:
                logger.warning(
                    "Foundry storage does not know response %s (session %r); the turn starts a new chain.",
                    previous,
                    key.session_id,
                )
            else:
                chain, originals = known
                items = [item for item in items if item["id"] not in originals]
                if not items:
                    return AppendResult(stored=0, head=previous)
            continued = previous if known is not None else None
        else:
            continued = None
        item_ids = tuple(item["id"] for item in items)
        pending_key = (key.user, continued, item_ids)
        # A turn that failed in transit is sent again byte for byte (same response and item ids), so
        # if the first attempt did land the service answers "already exists" and nothing is doubled.
        turn = self._pending.get(pending_key) or build_turn(
            items,
            response_id=self._new_response_id(key, continued),
            previous_response_id=continued,
            identity=self.identity,
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
            self._pending.put(pending_key, turn)
            raise
        self._pending.pop(pending_key)
        if not landed_before:  # after "already exists" the service's copy is the truth: read it next time
            stored_ids = turn.item_ids
            self._chains.put((key.user, response_id), (*chain, *stored_ids))
            for service_id, original in zip(stored_ids, item_ids, strict=True):  # the split keeps the order
                self._originals.put((key.user, service_id), original)
        self._heads.put(key, response_id)
        bound = current_request_context()
        if bound.response_id is not None:
            self._bound_tails.put((key.user, bound.response_id), response_id)
        return AppendResult(stored=len(items), head=response_id)

    async def _do_close(self) -> None:
        for resource in self._owned:
            closer = getattr(resource, "aclose", None) or getattr(resource, "close", None)
            if closer is not None:
                result = closer()
                if hasattr(result, "__await__"):
                    await result
