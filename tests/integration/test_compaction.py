"""Durable compaction: agent-framework's CompactionProvider strategies, kept by HistoryStoreProvider.

Runs real ``Agent``s with agent-framework's own ``SummarizationStrategy`` and ``SlidingWindowStrategy``
and offline clients: after a compaction the next runs (and a fresh agent with the restored session)
load from the latest compaction record on, reading about as many items as the compacted history holds,
while the store keeps the whole transcript.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from agent_framework import Agent, AgentSession, CompactionProvider, Message
from agent_framework._compaction import SlidingWindowStrategy, SummarizationStrategy

from agent_framework_history import (
    AppendResult,
    Capability,
    ChainTail,
    HistoryStore,
    HistoryStoreProvider,
    SessionKey,
)
from agent_framework_history._compaction import MARKER_TYPE
from agent_framework_history.conversion import to_messages
from agent_framework_history.testing import RecallChatClient

from ._stores import BACKENDS, open_backend

USER = "compaction-user"
"""The partition of these tests' sessions, fixed so that no request context another test left changes it."""


class Summarizer(RecallChatClient):
    """Answers a summarization request with a summary naming how many lines it was given."""

    def reply_for(self, messages: Sequence[Message]) -> str:
        return f"SUMMARY of {messages[-1].text.count(chr(10)) + 1} lines"


class CountingStore:
    """A store that counts the items each load returns (and otherwise passes every call through)."""

    def __init__(self, inner: HistoryStore) -> None:
        self.inner = inner
        self.loads: list[int] = []

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.inner.capabilities

    async def append(
        self, key: SessionKey, items: Sequence[dict[str, Any]], *, head: str | None = None
    ) -> AppendResult:
        return await self.inner.append(key, items, head=head)

    async def load(self, key: SessionKey, *, limit: int | None = None, head: str | None = None) -> list[dict[str, Any]]:
        items = await self.inner.load(key, limit=limit, head=head)
        self.loads.append(len(items))
        return items

    async def load_after(self, key: SessionKey, after: str | None, *, head: str | None = None) -> ChainTail:
        tail = await self.inner.load_after(key, after, head=head)
        self.loads.append(len(tail.items))
        return tail

    async def delete(self, key: SessionKey) -> bool:
        return await self.inner.delete(key)

    def list_sessions(self, **partition: Any) -> Any:
        return self.inner.list_sessions(**partition)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> CountingStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@pytest_asyncio.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CountingStore]:
    opened = CountingStore(open_backend(request.param, tmp_path))
    yield opened
    await opened.aclose()


def summarizing_agent(store: CountingStore, client: RecallChatClient, *, limit: int | None = None) -> Agent:
    history = HistoryStoreProvider(store, limit=limit, user=USER)  # type: ignore[arg-type]  # a HistoryStore by protocol
    compaction = CompactionProvider(
        before_strategy=SummarizationStrategy(client=Summarizer(), target_count=2, threshold=2),
        history_source_id=history.source_id,
    )
    return Agent(client=client, context_providers=[history, compaction])


def texts(messages: Sequence[Message]) -> list[str]:
    return [m.text for m in messages]


@pytest.mark.asyncio
async def test_a_summary_is_stored_and_later_runs_load_from_it(store: CountingStore) -> None:
    client = RecallChatClient()
    agent = summarizing_agent(store, client)
    session = agent.create_session()
    for n in range(30):
        await agent.run(f"turn {n}", session=session)
    key = SessionKey(session.session_id, user=USER)
    transcript = await store.inner.load(key)
    user_texts = [m.text for m in to_messages(transcript) if m.role == "user"]
    assert [f"turn {n}" for n in range(30)] == [t for t in user_texts if t.startswith("turn")]  # nothing lost
    markers = [item for item in transcript if item["type"] == MARKER_TYPE]
    assert len(markers) >= 5 and any(item["items"] > 0 for item in markers)

    # What the model saw last: a summary, then the latest turns, far fewer than the 60 stored messages.
    last_request = client.calls[-1]
    assert last_request[0].startswith("SUMMARY of") and last_request[-1] == "turn 29"
    assert len(last_request) <= 8

    # A fresh agent with the session restored (as a host does) sends the same compacted history,
    # and its load reads about what the compacted history holds, not the transcript.
    fresh_client = RecallChatClient()
    fresh = summarizing_agent(store, fresh_client)
    restored = AgentSession.from_dict(session.to_dict())
    store.loads.clear()
    await fresh.run("turn 30", session=restored)
    sent = fresh_client.calls[-1]
    assert sent[0].startswith("SUMMARY of") and sent[-1] == "turn 30" and len(sent) <= 8
    assert any(text.endswith("You said: turn 29") for text in sent)  # the last answer is there
    assert len(transcript) > 120 and store.loads and max(store.loads) <= 40  # the view and a little more


@pytest.mark.asyncio
async def test_the_stored_view_is_what_the_next_run_is_given(store: CountingStore) -> None:
    client = RecallChatClient()
    agent = summarizing_agent(store, client)
    session = agent.create_session()
    for n in range(12):
        await agent.run(f"turn {n}", session=session)
    provider = agent.context_providers[0]
    assert isinstance(provider, HistoryStoreProvider)
    state = session.state[provider.source_id]
    loaded = texts(await provider.get_messages(session.session_id, state=state))
    assert loaded[0].startswith("SUMMARY of")
    await agent.run("turn 12", session=session)
    sent = client.calls[-1]
    assert sent[-1] == "turn 12"
    # the run was given the stored view (compacted again by the strategy when it grew past its target)
    assert sent[0].startswith("SUMMARY of")
    assert all(text in loaded for text in sent[:-1] if not text.startswith("SUMMARY of"))


@pytest.mark.asyncio
async def test_without_session_state_the_view_is_still_the_compacted_one(store: CountingStore) -> None:
    agent = summarizing_agent(store, RecallChatClient())
    session = agent.create_session()
    for n in range(10):
        await agent.run(f"turn {n}", session=session)
    provider = agent.context_providers[0]
    assert isinstance(provider, HistoryStoreProvider)
    with_state = texts(await provider.get_messages(session.session_id, state=session.state[provider.source_id]))
    stateless = texts(await provider.get_messages(session.session_id))  # the latest turn, read whole
    assert stateless == with_state and stateless[0].startswith("SUMMARY of")


@pytest.mark.asyncio
async def test_a_limit_applies_to_the_compacted_history(store: CountingStore) -> None:
    agent = summarizing_agent(store, RecallChatClient(), limit=3)
    session = agent.create_session()
    for n in range(10):
        await agent.run(f"turn {n}", session=session)
    provider = agent.context_providers[0]
    assert isinstance(provider, HistoryStoreProvider)
    state = session.state[provider.source_id]
    unlimited = HistoryStoreProvider(store, user=USER)  # type: ignore[arg-type]
    everything = texts(await unlimited.get_messages(session.session_id, state=state))
    limited = texts(await provider.get_messages(session.session_id, state=state))
    assert limited == everything[-len(limited) :] and 3 <= len(limited) < len(everything)


@pytest.mark.asyncio
async def test_a_sliding_window_is_kept_by_reference_without_copies(store: CountingStore) -> None:
    history = HistoryStoreProvider(store, user=USER)  # type: ignore[arg-type]
    compaction = CompactionProvider(
        before_strategy=SlidingWindowStrategy(keep_last_groups=2), history_source_id=history.source_id
    )
    client = RecallChatClient()
    agent = Agent(client=client, context_providers=[history, compaction])
    session = agent.create_session()
    for n in range(40):
        await agent.run(f"turn {n}", session=session)
    assert client.calls[-1] == [
        "turn 38",
        "Seen 2 earlier messages. You said: turn 38",
        "turn 39",
    ]
    transcript = await store.inner.load(SessionKey(session.session_id, user=USER))
    markers = [item for item in transcript if item["type"] == MARKER_TYPE]
    assert markers and all(item["items"] == 0 and "keep_from" in item for item in markers)
    assert len(transcript) == 80 + len(markers)  # every message once, plus one marker per compaction
    store.loads.clear()
    loaded = texts(await history.get_messages(session.session_id, state=session.state[history.source_id]))
    assert loaded == [
        "turn 38",
        "Seen 2 earlier messages. You said: turn 38",
        "turn 39",
        client.reply_for([Message("user", ["turn 38"]), Message("assistant", ["x"]), Message("user", ["turn 39"])]),
    ]
    assert max(store.loads) <= 30


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cache_messages", "reads"),
    [(0, [0, 2, 4, 6, 8]), (100, [0, 2, 0, 0, 0])],
    ids=["no-cache", "message-cache"],
)
async def test_without_compaction_a_load_is_one_read_of_the_history(cache_messages: int, reads: list[int]) -> None:
    # Without the message cache every run reads everything once; with it, only what it has not converted yet
    # (the first turn's save has no earlier head to extend, so the second run reads those two items).
    store = CountingStore(open_backend("memory", Path(".")))
    provider = HistoryStoreProvider(store, cache_messages=cache_messages)  # type: ignore[arg-type]
    agent = Agent(client=RecallChatClient(), context_providers=[provider])
    session = agent.create_session()
    for n in range(5):
        reply = await agent.run(f"turn {n}", session=session)
        assert f"Seen {2 * n} earlier messages" in reply.text
    assert store.loads == reads
    await store.aclose()
