"""An agent-framework Agent keeping its history through HistoryStoreProvider."""

from __future__ import annotations

import pytest
from agent_framework import Agent, AgentSession, Message

from agent_framework_history import HistoryStoreProvider, SessionKey, bind_request_context, open_store
from agent_framework_history.testing import RecallChatClient


@pytest.mark.asyncio
async def test_agent_remembers_the_previous_turn() -> None:
    client = RecallChatClient()
    agent = Agent(client=client, context_providers=[HistoryStoreProvider("memory://agent-remembers")])
    session = agent.create_session()
    first = await agent.run("my name is Ada", session=session)
    assert first.text == "Seen 0 earlier messages. You said: my name is Ada"
    second = await agent.run("what is my name?", session=session)
    assert second.text == "Seen 2 earlier messages. You said: what is my name?"
    assert client.calls[-1][:2] == ["my name is Ada", "Seen 0 earlier messages. You said: my name is Ada"]


@pytest.mark.asyncio
async def test_resumed_session_continues_from_the_store() -> None:
    store_url = "memory://agent-resume"
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store_url)])
    session = agent.create_session()
    await agent.run("one", session=session)
    saved = session.to_dict()

    fresh_agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store_url)])
    resumed = AgentSession.from_dict(saved)
    reply = await fresh_agent.run("two", session=resumed)
    assert reply.text == "Seen 2 earlier messages. You said: two"


@pytest.mark.asyncio
async def test_replayed_transcript_is_not_stored_twice() -> None:
    store = open_store("memory://")
    provider = HistoryStoreProvider(store)
    first = [Message("user", ["hi"]), Message("assistant", ["hello"])]
    await provider.save_messages("s", first, state={})
    assert all(m.message_id for m in first)
    await provider.save_messages("s", [*first, Message("user", ["again"])], state={})
    loaded = await provider.get_messages("s", state={})
    assert [m.text for m in loaded] == ["hi", "hello", "again"]


@pytest.mark.asyncio
async def test_identical_new_messages_are_both_kept() -> None:
    provider = HistoryStoreProvider(open_store("memory://"))
    await provider.save_messages("s", [Message("user", ["yes"])], state={})
    await provider.save_messages("s", [Message("user", ["yes"])], state={})
    assert [m.text for m in await provider.get_messages("s", state={})] == ["yes", "yes"]


@pytest.mark.asyncio
async def test_request_context_partitions_histories() -> None:
    store = open_store("memory://")
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store)])
    session = agent.create_session(session_id="shared-id")
    with bind_request_context(user="alice"):
        await agent.run("alice here", session=session)
    with bind_request_context(user="bob"):
        reply = await agent.run("bob here", session=agent.create_session(session_id="shared-id"))
    assert reply.text == "Seen 0 earlier messages. You said: bob here"
    assert len(await store.load(SessionKey("shared-id", user="alice"))) == 2
    assert len(await store.load(SessionKey("shared-id", user="bob"))) == 2


@pytest.mark.asyncio
async def test_explicit_partition_beats_request_context() -> None:
    store = open_store("memory://")
    provider = HistoryStoreProvider(store, user="fixed")
    with bind_request_context(user="bound"):
        await provider.save_messages("s", [Message("user", ["x"])], state={})
    assert len(await store.load(SessionKey("s", user="fixed"))) == 1
    assert await store.load(SessionKey("s", user="bound")) == []


@pytest.mark.asyncio
async def test_limit_loads_only_the_latest_messages() -> None:
    provider = HistoryStoreProvider(open_store("memory://"), limit=2)
    await provider.save_messages("s", [Message("user", [str(n)]) for n in range(5)], state={})
    assert [m.text for m in await provider.get_messages("s", state={})] == ["3", "4"]


def test_provider_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="limit"):
        HistoryStoreProvider("memory://", limit=-1)
    with pytest.raises(ValueError, match="SessionKey.user"):
        HistoryStoreProvider("memory://", user="")


@pytest.mark.asyncio
async def test_provider_closes_only_a_store_it_opened() -> None:
    passed_in = open_store("memory://")
    async with HistoryStoreProvider(passed_in) as provider:
        await provider.save_messages("s", [Message("user", ["x"])], state={})
    assert len(await passed_in.load(SessionKey("s"))) == 1

    owned = HistoryStoreProvider("memory://")
    store = owned.store
    await owned.aclose()
    with pytest.raises(RuntimeError):
        await store.load(SessionKey("s"))
