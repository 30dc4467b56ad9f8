"""An agent-framework Agent keeping its history in (fake) Foundry storage through HistoryStoreProvider."""

from __future__ import annotations

import pytest
from agent_framework import Agent
from azure.ai.agentserver.responses._id_generator import IdGenerator

from agent_framework_history import HistoryStoreProvider, bind_request_context
from agent_framework_history._provider import state_head
from agent_framework_history.testing import RecallChatClient
from agent_framework_history_foundry import FoundryHistoryStore
from agent_framework_history_foundry.testing import FakeFoundryStorage


@pytest.mark.asyncio
async def test_agent_session_carries_the_chain_head(fake: FakeFoundryStorage, wire_store: FoundryHistoryStore) -> None:
    provider = HistoryStoreProvider(wire_store)
    agent = Agent(client=RecallChatClient(), context_providers=[provider])
    session = agent.create_session()
    replies = []
    for n, text in enumerate(["my name is Ada", "I like tea", "what do you know?"]):
        with bind_request_context(user="ada", call_id=f"call-{n}"):
            replies.append((await agent.run(text, session=session)).text)
    assert replies == [
        "Seen 0 earlier messages. You said: my name is Ada",
        "Seen 2 earlier messages. You said: I like tea",
        "Seen 4 earlier messages. You said: what do you know?",
    ]
    creates = fake.of("create")
    assert len(creates) == 3
    assert [r.headers["x-agent-foundry-call-id"] for r in creates] == ["call-0", "call-1", "call-2"]
    with bind_request_context(user="ada"):
        key = provider.session_key(session.session_id)
    head = state_head(session.state[provider.source_id], key)
    assert head == creates[-1].body["response"]["id"]
    texts = [i["content"][0]["text"] for i in await wire_store.load(key, head=head)]
    assert texts[0] == "my name is Ada" and texts[4] == "what do you know?" and len(texts) == 6


@pytest.mark.asyncio
async def test_platform_bound_chain_without_session_state(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    """As in a hosted agent: each request arrives with previous_response_id and its own response_id."""
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(wire_store)])
    previous: str | None = None
    replies = []
    for n, text in enumerate(["one", "two", "three"]):
        response_id = IdGenerator.new_response_id(previous or "")
        with bind_request_context(user="ada", response_id=response_id, previous_response_id=previous, call_id=f"c{n}"):
            replies.append((await agent.run(text, session=agent.create_session())).text)
        assert fake.of("create")[-1].body["response"]["id"] == response_id
        previous = response_id
    assert replies[2] == "Seen 4 earlier messages. You said: three"
    assert fake.of("create")[2].body["history_item_ids"] == fake.chain_ids(fake.of("create")[1].body["response"]["id"])
