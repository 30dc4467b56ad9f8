"""open_session_store as agent-framework-hosting's AgentState session store, shared by replicas of an app."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentState

from agent_framework_history import DurableSessionStore, SessionConflictError, open_session_store
from agent_framework_history.testing import RecallChatClient


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite", "memory"])
async def test_agent_state_keeps_sessions_in_the_store_and_refuses_stale_writes(tmp_path: Path, backend: str) -> None:
    url = f"sqlite:///{tmp_path}/sessions.db" if backend == "sqlite" else "memory://agent-state-sessions"
    records = open_session_store(url).records

    def app() -> AgentState[Agent]:  # what each replica of an app-owned route builds
        return AgentState(Agent(client=RecallChatClient()), session_store=DurableSessionStore(records, scope="u:ada"))

    first, second = app(), app()
    session = await first.get_or_create_session("chat-1")
    session.state["note"] = "from the first replica"
    await first.set_session("chat-1", session)

    restored = await second.get_or_create_session("chat-1")
    assert restored.state["note"] == "from the first replica"

    # Both replicas now hold the same version; the first to write wins, the other is told to reload.
    mine = await first.get_or_create_session("chat-1")
    theirs = await second.get_or_create_session("chat-1")
    mine.state["note"] = "first wins"
    await first.set_session("chat-1", mine)
    theirs.state["note"] = "stale"
    with pytest.raises(SessionConflictError, match="chat-1"):
        await second.set_session("chat-1", theirs)
    kept = await app().get_or_create_session("chat-1")
    assert kept.state["note"] == "first wins"
    await records.aclose()
