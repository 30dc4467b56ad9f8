"""The memory backend as the hosting SDK's stores: a response store and agent-session records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from azure.ai.agentserver.responses import PlatformContext

from agent_framework_history import ALL, SessionKey, open_response_store, open_session_store, open_store
from agent_framework_history.testing import ResponseStoreConformance, SessionRecordsConformance
from agent_framework_history.testing import response_envelope as response
from agent_framework_history.testing import response_message as message
from agent_framework_history_memory._hosting import MemoryResponseStore, MemorySessionRecords


class TestMemoryResponseStore(ResponseStoreConformance):
    @pytest.fixture
    def response_store_factory(self) -> Callable[[], AbstractAsyncContextManager[Any]]:
        @asynccontextmanager
        async def fresh() -> AsyncIterator[MemoryResponseStore]:
            store = MemoryResponseStore()
            yield store
            await store.aclose()

        return fresh


class TestMemorySessionRecords(SessionRecordsConformance):
    @pytest.fixture
    def session_records(self) -> MemorySessionRecords:
        return MemorySessionRecords()


@pytest.mark.asyncio
async def test_responses_are_turns_of_a_history_session() -> None:
    store = open_response_store("memory://hosting-turns")
    alice = PlatformContext(user_id_key="alice")
    await store.create_response(
        response("caresp_1", [message("msg_1a", "hi alice", "assistant")]), [message("msg_1u", "hi")], [], context=alice
    )
    history = await store.get_history_item_ids("caresp_1", None, -1, context=alice)
    await store.create_response(  # as the SDK's host does: no previous_response_id in the envelope
        response("caresp_2", [message("msg_2a", "again", "assistant")]),
        [message("msg_2u", "and again")],
        history,
        context=alice,
    )
    history_store = open_store("memory://hosting-turns")
    keys = [key async for key in history_store.list_sessions(user=ALL, chat=ALL)]
    assert keys == [SessionKey("caresp_1", user="alice")]
    loaded = await history_store.load(keys[0])
    assert [item["id"] for item in loaded] == ["msg_1u", "msg_1a", "msg_2u", "msg_2a"]


@pytest.mark.asyncio
async def test_open_session_store_scopes_each_user() -> None:
    from azure.ai.agentserver.core import AgentConfig, FoundryAgentRequestContext

    provider = open_session_store("memory://hosting-sessions")
    config = AgentConfig.from_env()
    alice = provider.get_store(config=config, platform_context=FoundryAgentRequestContext(user_id="alice"))
    bob = provider.get_store(config=config, platform_context=FoundryAgentRequestContext(user_id="bob"))
    anonymous = provider.get_store(config=config, platform_context=FoundryAgentRequestContext())
    from agent_framework import AgentSession

    await alice.set("caresp_1", AgentSession(session_id="alice-session"))
    assert await bob.get("caresp_1") is None
    assert await anonymous.get("caresp_1") is None
    found = await provider.get_store(config=config, platform_context=FoundryAgentRequestContext(user_id="alice")).get(
        "caresp_1"
    )
    assert found is not None and found.session_id == "alice-session"


@pytest.mark.asyncio
async def test_a_history_is_checked_unless_it_is_a_chain_the_store_just_served() -> None:
    from agent_framework_history import open_response_store
    from agent_framework_history.testing import host_turn
    from agent_framework_history.testing import response_envelope as envelope
    from agent_framework_history.testing import response_message as message

    store = open_response_store("memory://")
    previous = await host_turn(store, None, 0, None)
    previous = await host_turn(store, None, 1, previous)
    served = await store.get_history_item_ids(previous, None, -1)
    assert served == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
    for bad in ([*served[:-1], "msg_\x00"], [*served, ""], [served[0], 7, *served[2:]]):
        with pytest.raises(ValueError, match="history_item_ids must hold"):
            await store.create_response(envelope("caresp_9", []), [message("msg_9u", "q")], bad)
    await store.create_response(envelope("caresp_2", []), [message("msg_2u", "q")], list(served))
    assert await store.get_history_item_ids("caresp_2", None, -1) == [*served, "msg_2u"]
    await store.aclose()
