"""``HistoryStoreProvider``: an agent-framework ``HistoryProvider`` over any ``HistoryStore``."""

from __future__ import annotations

import contextvars
import hashlib
import json
import uuid
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from agent_framework import HistoryProvider, Message

from ._base import check_limit
from ._closing import AsyncClosing
from ._compaction import (
    LoadedView,
    compaction_record,
    forget_guess,
    guess_of,
    holds_no_record,
    kept_run,
    load_view,
    note_saved,
    set_guess,
)
from ._context import RequestContext, current_request_context, use_request_context
from ._keys import SessionKey
from ._message_cache import DEFAULT_CACHE_MESSAGES, MessageCache
from ._selector import open_store
from ._store import Capability, HistoryStore
from .conversion import to_items, to_messages

if TYPE_CHECKING:
    from agent_framework import AgentSession, SessionContext, SupportsAgentRun

__all__ = ["HEAD_STATE_KEY", "HistoryStoreProvider", "state_head"]

HEAD_STATE_KEY = "heads"
"""Key, in the provider's slot of ``AgentSession.state``, of the chain heads: one per isolation
partition, under a digest of the partition (so the state names no user), so a session object
shared by several users' requests never hands one user's head to another's chain."""

_LEGACY_HEAD_KEY = "head"
"""Where releases before chains kept a single head (read, never written)."""


def partition_tag(key: SessionKey) -> str:
    """The digest a partition's head is kept under in the session state."""
    text = json.dumps([key.user, key.chat], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def state_head(state: dict[str, Any] | None, key: SessionKey) -> str | None:
    """The chain head kept in ``state`` for ``key``'s partition (``None``: the session's latest turn)."""
    if state is None:
        return None
    heads = state.get(HEAD_STATE_KEY)
    if isinstance(heads, dict):
        head = cast(dict[str, Any], heads).get(partition_tag(key))
        return head if isinstance(head, str) else None
    legacy = state.get(_LEGACY_HEAD_KEY)
    return legacy if isinstance(legacy, str) else None


def keep_head(state: dict[str, Any], key: SessionKey, head: str) -> None:
    """Record ``head`` as ``key``'s partition's chain head in ``state``."""
    heads = state.get(HEAD_STATE_KEY)
    if not isinstance(heads, dict):
        heads = state[HEAD_STATE_KEY] = {}
    cast(dict[str, Any], heads)[partition_tag(key)] = head
    state.pop(_LEGACY_HEAD_KEY, None)


_CACHEABLE: frozenset[Capability] = frozenset({Capability.CHAIN_HEAD, Capability.LOAD_AFTER})


def _message_cache(budget: object) -> MessageCache:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ValueError(
            f"cache_messages must be an int >= 0 (messages kept converted; 0 turns the cache off), got {budget!r}."
        )
    return MessageCache(budget)


_LOADING: contextvars.ContextVar[list[LoadedView] | None] = contextvars.ContextVar("af_history_loading", default=None)
"""Set by ``before_run`` around the base class's load, so ``get_messages`` can hand back what it loaded."""


class HistoryStoreProvider(AsyncClosing, HistoryProvider):
    """Loads and saves an agent's conversation through a :class:`HistoryStore`.

    ``store`` is a store, a URL or backend name for :func:`open_store`, or ``None`` for the
    selector's choice (opened on first use, so building the provider never touches storage).
    ``user`` / ``chat`` fix the isolation partition; when left ``None`` they come from the
    request context: what :func:`bind_request_context` bound, else what the serving host
    publishes (``ResponsesHostServer`` and the other AgentServer hosts: the request's
    ``x-agent-user-id`` user and its call id). The context in force when a run starts also
    covers the save at its end, so a streamed run saved after a binding's block has exited is
    stored in the same partition.

    The chain head of the conversation is kept in ``AgentSession.state`` (this provider's slot,
    key :data:`HEAD_STATE_KEY`, one head per isolation partition): a session restored as it was
    after an earlier turn (a host that snapshots the session per response, then a request with
    that ``previous_response_id``) loads and continues exactly the chain that ended there.

    Converted messages are kept per session and chain head (``cache_messages``: how many, summed
    over sessions; ``0`` turns it off), so a turn reads and converts only the items stored after
    the head it last saw (:meth:`HistoryStore.load_after`, on stores with
    :attr:`Capability.LOAD_AFTER` and no ``limit``). Every load still asks the store, so other
    processes' appends, forks and deletes are seen. Each call returns a new list whose messages are
    shared with the cache and read-only (``copy.copy(message)`` gives one to change).

    Placed before a ``CompactionProvider`` (``before_strategy``), the provider keeps what the
    compaction made of the loaded history: it stores a compaction record in the chain before the
    run's messages, and later runs load from the latest record on (``docs/quickstart.md``,
    "Compaction that lasts"; :mod:`agent_framework_history._compaction`); the full transcript stays
    in the store.

    Messages without a ``message_id`` get one (``msg_<uuid>``) when first saved, written back
    onto the message, so a transcript replayed later is recognised by id and never stored
    twice; no save reads the stored history.

    >>> from agent_framework import Agent
    >>> agent = Agent(client=my_client, context_providers=[HistoryStoreProvider("memory://")])  # doctest: +SKIP
    """

    DEFAULT_SOURCE_ID: ClassVar[str] = "af_history"
    DEFAULT_SESSION_ID: ClassVar[str] = "default"

    def __init__(
        self,
        store: HistoryStore | str | None = None,
        *,
        source_id: str = DEFAULT_SOURCE_ID,
        limit: int | None = None,
        user: str | None = None,
        chat: str | None = None,
        load_messages: bool = True,
        store_inputs: bool = True,
        store_context_messages: bool = False,
        store_context_from: set[str] | None = None,
        store_outputs: bool = True,
        store_options: dict[str, Any] | None = None,
        cache_messages: int = DEFAULT_CACHE_MESSAGES,
    ) -> None:
        super().__init__(
            source_id,
            load_messages=load_messages,
            store_inputs=store_inputs,
            store_context_messages=store_context_messages,
            store_context_from=store_context_from,
            store_outputs=store_outputs,
        )
        self.limit = check_limit(limit)
        SessionKey("check", user=user, chat=chat)  # validates user / chat early
        self.user = user
        self.chat = chat
        self._target = store
        self._store: HistoryStore | None = store if store is not None and not isinstance(store, str) else None
        self._owns_store = self._store is None
        self._store_options = dict(store_options or {})
        self._cache = _message_cache(cache_messages)
        # The request context seen when each run started, for the save at its end.
        self._run_contexts: weakref.WeakKeyDictionary[SessionContext, RequestContext] = weakref.WeakKeyDictionary()
        # What each run loaded (the messages put in the context, and the view they came from), to tell
        # after the run whether a CompactionProvider rewrote them.
        self._loaded: weakref.WeakKeyDictionary[SessionContext, tuple[list[Message], LoadedView | None]] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def store(self) -> HistoryStore:
        """The store, opened now if it was not yet."""
        if self._store is None:
            target = self._target if isinstance(self._target, str) else None
            self._store = open_store(target, **self._store_options)
        return self._store

    def session_key(self, session_id: str | None) -> SessionKey:
        """The key a session's history is stored under, with the bound request's partition."""
        bound = current_request_context()
        return SessionKey(
            session_id or self.DEFAULT_SESSION_ID,
            user=self.user if self.user is not None else bound.user,
            chat=self.chat if self.chat is not None else bound.chat,
        )

    async def before_run(
        self,
        *,
        agent: SupportsAgentRun,
        session: AgentSession,
        context: SessionContext,
        state: dict[str, Any],
    ) -> None:
        self._run_contexts[context] = current_request_context()
        views: list[LoadedView] = []
        token = _LOADING.set(views)
        try:
            await super().before_run(agent=agent, session=session, context=context, state=state)
        finally:
            _LOADING.reset(token)
        loaded = list(context.context_messages.get(self.source_id, []))
        self._loaded[context] = (loaded, views[-1] if views else None)

    async def after_run(
        self,
        *,
        agent: SupportsAgentRun,
        session: AgentSession,
        context: SessionContext,
        state: dict[str, Any],
    ) -> None:
        started = self._run_contexts.pop(context, None)
        if started is None:  # load_messages=False: before_run did not run
            await super().after_run(agent=agent, session=session, context=context, state=state)
            return
        with use_request_context(started):
            await self._keep_compaction(context, state)
            await super().after_run(agent=agent, session=session, context=context, state=state)

    async def _keep_compaction(self, context: SessionContext, state: dict[str, Any]) -> None:
        """Store what a compaction made of the loaded history as a record, when it changed anything."""
        run = self._loaded.pop(context, None)
        if run is None:
            return
        loaded, view = run
        compacted = context.context_messages.get(self.source_id, [])
        if not compacted or (
            len(compacted) == len(loaded) and all(a is b for a, b in zip(compacted, loaded, strict=True))
        ):
            return
        kept = kept_run(loaded, compacted, view.plain_ids if view is not None else frozenset())
        record = compaction_record(compacted, kept, self.source_id)
        key = self.session_key(context.session_id)
        result = await self.store.append(key, record, head=state_head(state, key))
        if result.head is not None:
            keep_head(state, key, result.head)
        reach = len(record)
        if kept and view is not None:
            first = record[0]["keep_from"]
            start = next((i for i, item in enumerate(view.items) if item.get("id") == first), len(view.items))
            reach += len(view.items) - start
        set_guess(state, partition_tag(key), reach)

    async def get_messages(
        self, session_id: str | None, *, state: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Message]:
        key = self.session_key(session_id)
        head = state_head(state, key)
        tag = partition_tag(key)
        if self._cached() and guess_of(state, tag) is None:
            cached = await self._cache.load(self.store, key, head, usable=holds_no_record)
            if cached is not None:  # a chain without compaction records: its messages, converted once
                if (views := _LOADING.get()) is not None:
                    views.append(LoadedView([], frozenset(m.message_id for m in cached if m.message_id is not None)))
                return cached
        view = await load_view(self.store, key, limit=self.limit, head=head, guess=guess_of(state, tag))
        if state is not None:
            if view.compacted:
                set_guess(state, tag, view.span)
            else:
                forget_guess(state, tag)
        if (views := _LOADING.get()) is not None:
            views.append(view)
        return to_messages(view.items)

    async def save_messages(
        self,
        session_id: str | None,
        messages: Sequence[Message],
        *,
        state: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not messages:
            return
        for message in messages:
            if message.message_id is None:
                message.message_id = f"msg_{uuid.uuid4().hex}"
        key = self.session_key(session_id)
        parent = state_head(state, key)
        items = to_items(messages)
        result = await self.store.append(key, items, head=parent)
        if state is not None and result.head is not None:
            keep_head(state, key, result.head)
        note_saved(state, partition_tag(key), result)
        if self._cached():
            self._cache.saved(key, parent, result.head, items, result.stored)

    def _cached(self) -> bool:
        """Whether loads go through the message cache: on, no ``limit`` window, a store that reads tails."""
        return self._cache.budget > 0 and self.limit is None and self.store.capabilities >= _CACHEABLE

    async def aclose(self) -> None:
        """Close the store if this provider opened it (a store passed in stays open)."""
        if self._owns_store and self._store is not None:
            store, self._store = self._store, None
            await store.aclose()
