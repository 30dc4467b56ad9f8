"""An agent whose replicas share one history through the postgres backend."""

from __future__ import annotations

import pytest
from agent_framework import Agent, AgentSession

from agent_framework_history import HistoryStoreProvider, SessionKey, bind_request_context
from agent_framework_history.testing import RecallChatClient
from agent_framework_history_postgres import open_postgres_store


@pytest.mark.asyncio
async def test_a_session_started_on_one_replica_continues_on_another(dsn: str, schema: str) -> None:
    async with (
        open_postgres_store(dsn, schema=schema) as replica_a,
        open_postgres_store(dsn, schema=schema) as replica_b,
    ):
        agent_a = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(replica_a)])
        session = agent_a.create_session()
        with bind_request_context(user="alice"):
            await agent_a.run("my name is Ada", session=session)
        saved = session.to_dict()

        client_b = RecallChatClient()
        agent_b = Agent(client=client_b, context_providers=[HistoryStoreProvider(replica_b)])
        with bind_request_context(user="alice"):
            reply = await agent_b.run("what is my name?", session=AgentSession.from_dict(saved))
        assert reply.text == "Seen 2 earlier messages. You said: what is my name?"
        assert client_b.calls[-1][0] == "my name is Ada"

        keys = [key async for key in replica_a.list_sessions(user="alice")]
        assert len(keys) == 1 and isinstance(keys[0], SessionKey)
        assert len(await replica_a.load(keys[0])) == 4
