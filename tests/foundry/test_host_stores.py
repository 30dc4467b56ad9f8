"""Hosted mode: the serving host stores each turn in the same storage, so the store writes nothing.

The host is played here by the test: it publishes its request context the way AgentServer hosts do
(the platform context with user and call id, the ``azure.ai.agentserver.response_id`` baggage entry)
and writes its response with the SDK's own ``FoundryStorageProvider`` when the request completes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from azure.ai.agentserver.core import FoundryAgentRequestContext, reset_request_context, set_request_context
from azure.ai.agentserver.responses import FoundryStorageProvider, FoundryStorageSettings, PlatformContext
from azure.ai.agentserver.responses._id_generator import IdGenerator
from opentelemetry import baggage
from opentelemetry import context as otel_context

from agent_framework_history import HistoryStoreProvider, SessionKey
from agent_framework_history.testing import RecallChatClient, make_item
from agent_framework_history_foundry import ORIGINAL_ID_KEY, FoundryHistoryStore, open_foundry_store
from agent_framework_history_foundry.testing import FakeFoundryStorage, StaticTokenCredential

KEY = SessionKey("s", user="alice")


@contextmanager
def host_request(user: str, call_id: str, response_id: str) -> Iterator[None]:
    """What an AgentServer host publishes while it serves one request."""
    platform = set_request_context(FoundryAgentRequestContext(user_id=user, call_id=call_id))
    attached = otel_context.attach(baggage.set_baggage("azure.ai.agentserver.response_id", response_id))
    try:
        yield
    finally:
        otel_context.detach(attached)
        reset_request_context(platform)


@asynccontextmanager
async def host_storage(fake: FakeFoundryStorage) -> AsyncIterator[FoundryStorageProvider]:
    async with FoundryStorageProvider(
        StaticTokenCredential("host"), settings=FoundryStorageSettings.from_endpoint(fake.endpoint)
    ) as provider:
        yield provider


async def host_writes(
    provider: FoundryStorageProvider,
    fake: FakeFoundryStorage,
    response_id: str,
    previous: str | None,
    text: str,
    call_id: str,
) -> None:
    """The host's own record of a turn: the request's input and the reply, continuing ``previous``."""
    context = PlatformContext(user_id_key="alice", call_id=call_id)
    history = await provider.get_history_item_ids(previous, None, -1, context=context) if previous else []
    question = {**make_item("q", text), "id": IdGenerator.new_id("msg", response_id)}
    answer = {**make_item("a", f"reply to {text}", role="assistant"), "id": IdGenerator.new_id("msg", response_id)}
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "status": "completed",
        "created_at": 0,
        "output": [answer],
        "background": False,
        "parallel_tool_calls": False,
        "instructions": "",
    }
    if previous:
        response["previous_response_id"] = previous
    await provider.create_response(response, [question], history, context=context)  # type: ignore[arg-type]


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item.get("content", [])]


@pytest.mark.asyncio
async def test_each_turn_is_stored_once_by_the_host_and_read_back_from_its_chain(
    fake: FakeFoundryStorage, credential: StaticTokenCredential
) -> None:
    async with (
        open_foundry_store(fake.host_url, credential=credential, host_stores=True) as store,
        host_storage(fake) as host,
    ):
        provider = HistoryStoreProvider(store)
        from agent_framework import Agent

        agent = Agent(client=RecallChatClient(), context_providers=[provider])
        session = agent.create_session()
        previous: str | None = None
        replies: list[str] = []
        for n, text in enumerate(["one", "two", "three"]):
            response_id = IdGenerator.new_response_id(previous or "")
            with host_request("alice", f"call-{n}", response_id):
                replies.append((await agent.run(text, session=session)).text)
            assert response_id in json.dumps(session.state[provider.source_id])  # the head kept in the session
            await host_writes(host, fake, response_id, previous, text, f"call-{n}")
            previous = response_id
        assert [seen.split(".")[0] for seen in replies] == [
            "Seen 0 earlier messages",
            "Seen 2 earlier messages",
            "Seen 4 earlier messages",
        ]
        creates = fake.of("create")
        assert [r.headers["Authorization"] for r in creates] == ["Bearer host"] * 3  # nobody else wrote
        reads = [r for r in fake.requests if r.headers["Authorization"] == "Bearer token-123"]
        assert reads and all(r.operation in ("history", "items") for r in reads)
        assert {r.headers["x-agent-foundry-call-id"] for r in reads} == {"call-1", "call-2"}
        # the chain is the host's: its items, with their service ids (nothing of ours in them)
        loaded = await store.load(KEY, head=previous)
        assert texts(loaded) == ["one", "reply to one", "two", "reply to two", "three", "reply to three"]
        assert all(ORIGINAL_ID_KEY not in r.body["input_items"][0] for r in creates)


@pytest.mark.asyncio
async def test_inside_the_request_the_unwritten_host_turn_loads_as_appended(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, credential: StaticTokenCredential
) -> None:
    first = (await wire_store.append(KEY, [make_item("before", "written earlier")])).head
    async with open_foundry_store(fake.host_url, credential=credential, host_stores=True) as store:
        response_id = IdGenerator.new_response_id(first or "")
        with host_request("alice", "call-1", response_id):
            result = await store.append(
                KEY, [make_item("u", "question"), make_item("a", "answer", role="assistant")], head=first
            )
            assert result.stored == 0 and result.head == response_id
            again = await store.append(
                KEY, [make_item("a", "answer", role="assistant"), make_item("x", "more")], head=result.head
            )
            assert again.head == response_id
            # the host has not written its response yet: the chain it continues plus what was appended
            loaded = await store.load(KEY, head=response_id)
            assert texts(loaded) == ["written earlier", "question", "answer", "more"]
            assert texts(await store.load(KEY, head=response_id, limit=2)) == ["answer", "more"]
        assert len(fake.of("create")) == 1  # only the wire_store's earlier turn
        # after the request, the head names the host's response, read from storage (404: not written here)
        assert await store.load(KEY, head=response_id) == []


@pytest.mark.asyncio
async def test_without_host_stores_or_a_host_response_id_the_store_writes_its_own_chain(
    fake: FakeFoundryStorage, credential: StaticTokenCredential, caplog: pytest.LogCaptureFixture
) -> None:
    host_id = IdGenerator.new_response_id()
    async with open_foundry_store(fake.host_url, credential=credential, host_stores=False) as off:
        with host_request("alice", "call-1", host_id):
            result = await off.append(KEY, [make_item(1)])
        assert result.stored == 1 and result.head not in (None, host_id)
        assert fake.of("create")[-1].headers["x-agent-foundry-call-id"] == "call-1"  # the host's call id
    async with open_foundry_store(fake.host_url, credential=credential, host_stores=True) as on:
        platform = set_request_context(FoundryAgentRequestContext(user_id="alice", call_id="call-2"))
        try:
            with caplog.at_level(logging.WARNING, logger="agent_framework_history.foundry"):
                first = await on.append(KEY, [make_item(2)])
                second = await on.append(KEY, [make_item(3)], head=first.head)
        finally:
            reset_request_context(platform)
        assert first.stored == 1 and second.stored == 1  # no host response id published: written here
        warnings = [r.getMessage() for r in caplog.records if "did not publish" in r.getMessage()]
        assert len(warnings) == 1 and "twice" in warnings[0]
    assert [r.headers["x-agent-foundry-call-id"] for r in fake.of("create")] == ["call-1", "call-2", "call-2"]


@pytest.mark.asyncio
async def test_a_host_response_id_that_is_not_a_response_id_is_not_trusted(
    fake: FakeFoundryStorage, credential: StaticTokenCredential
) -> None:
    async with open_foundry_store(fake.host_url, credential=credential, host_stores=True) as store:
        with host_request("alice", "call-1", "not-a-caresp-id"):
            result = await store.append(KEY, [make_item(1)])
        assert result.stored == 1 and result.head != "not-a-caresp-id"
