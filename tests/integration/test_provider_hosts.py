"""HistoryStoreProvider inside a host: the host's identity, bindings that end before a streamed save, forks."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from agent_framework import Agent, AgentContext, AgentSession, agent_middleware
from azure.ai.agentserver.core import FoundryAgentRequestContext, reset_request_context, set_request_context
from opentelemetry import baggage
from opentelemetry import context as otel_context

from agent_framework_history import (
    ALL,
    HistoryStoreProvider,
    RequestContext,
    SessionKey,
    bind_request_context,
    current_request_context,
    open_store,
)
from agent_framework_history.testing import RecallChatClient


@pytest.fixture
def host_request() -> Iterator[Callable[..., None]]:
    """Publish a request context the way an AgentServer host does (reset after the test)."""
    # Each token with its own reset: both are contextvars tokens (OpenTelemetry re-exports that class), so
    # telling them apart by type would detach the host's token through OpenTelemetry and leak the user.
    resets: list[Callable[[], None]] = []

    def publish(*, user: str | None = None, call_id: str | None = None, response_id: str | None = None) -> None:
        platform = set_request_context(FoundryAgentRequestContext(user_id=user, call_id=call_id))
        resets.append(lambda: reset_request_context(platform))
        if response_id is not None:
            attached = otel_context.attach(baggage.set_baggage("azure.ai.agentserver.response_id", response_id))
            resets.append(lambda: otel_context.detach(attached))

    yield publish
    for reset in reversed(resets):
        # ValueError: published inside an async test's task, whose context copy ended with the task
        with contextlib.suppress(ValueError):
            reset()
    assert current_request_context() == RequestContext()  # either way, nothing published outlives the test


def test_without_a_host_or_binding_the_context_is_empty() -> None:
    assert current_request_context() == RequestContext()


def test_the_hosts_user_call_id_and_response_id_are_read(host_request: Callable[..., None]) -> None:
    host_request(user="alice", call_id="call-1", response_id="caresp_host")
    assert current_request_context() == RequestContext(user="alice", call_id="call-1", host_response_id="caresp_host")
    assert HistoryStoreProvider("memory://").session_key("s") == SessionKey("s", user="alice")


def test_an_explicit_binding_wins_over_the_host(host_request: Callable[..., None]) -> None:
    host_request(user="alice", call_id="call-1")
    with bind_request_context(user="bob", chat="c"):
        assert current_request_context() == RequestContext(user="bob", chat="c", call_id="call-1")
        assert HistoryStoreProvider("memory://").session_key("s") == SessionKey("s", user="bob", chat="c")
    assert HistoryStoreProvider("memory://", user="carol").session_key("s").user == "carol"


@pytest.mark.asyncio
async def test_agent_run_inside_a_host_request_is_stored_under_the_hosts_user(
    host_request: Callable[..., None],
) -> None:
    store = open_store("memory://")
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store)])
    host_request(user="alice", call_id="call-9")
    session = agent.create_session()
    await agent.run("hello", session=session, stream=True).get_final_response()
    keys = [key async for key in store.list_sessions(user=ALL, chat=ALL)]
    assert keys == [SessionKey(session.session_id, user="alice")]


@pytest.mark.asyncio
async def test_a_binding_in_middleware_also_covers_the_save_of_a_streamed_run() -> None:
    store = open_store("memory://")

    @agent_middleware
    async def bind_user(context: AgentContext, call_next: Callable[[], Awaitable[None]]) -> None:
        with bind_request_context(user="alice"):
            await call_next()

    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store)], middleware=[bind_user])
    session = agent.create_session()
    stream = agent.run("streamed", session=session, stream=True)
    async for _ in stream:
        pass
    await stream.get_final_response()
    second = await agent.run("again", session=session, stream=True).get_final_response()
    assert second.text == "Seen 2 earlier messages. You said: again"
    keys = [key async for key in store.list_sessions(user=ALL, chat=ALL)]
    assert keys == [SessionKey(session.session_id, user="alice")]


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_session_restored_as_it_was_continues_that_chain(stream: bool) -> None:
    """What a host does per response: snapshot the session, restore a snapshot for previous_response_id."""
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(open_store("memory://"))])

    async def run(session: AgentSession, text: str) -> str:
        if stream:
            return (await agent.run(text, session=session, stream=True).get_final_response()).text
        return (await agent.run(text, session=session)).text

    session = agent.create_session()
    snapshots = []
    for n in range(3):
        await run(session, f"turn {n}")
        snapshots.append(session.to_dict())
    assert await run(AgentSession.from_dict(snapshots[0]), "fork") == "Seen 2 earlier messages. You said: fork"
    retry = AgentSession.from_dict(snapshots[1])
    assert await run(retry, "retry") == "Seen 4 earlier messages. You said: retry"
    assert await run(retry, "on") == "Seen 6 earlier messages. You said: on"
    assert await run(session, "tip") == "Seen 6 earlier messages. You said: tip"


def test_bind_host_response_publishes_the_hosts_response_id_for_the_rest_of_the_task() -> None:
    import contextvars

    from agent_framework_history import bind_host_response

    class HostedRequest:  # what ResponsesHostServer hands its prepare_options hook
        response_id = "caresp_streamed"

    def handler() -> RequestContext:
        options = {"temperature": 0.5}
        assert bind_host_response(HostedRequest(), options) is options
        return current_request_context()

    seen = contextvars.copy_context().run(handler)
    assert seen.host_response_id == "caresp_streamed"
    assert current_request_context().host_response_id is None  # nothing leaks outside the handler's context


def test_a_backend_without_a_response_store_says_which_do(tmp_path: Path) -> None:

    from agent_framework_history import ConfigurationError, open_response_store, open_session_store

    with pytest.raises(ConfigurationError, match=r"'jsonl' backend does not offer a response store.*memory, postgres"):
        open_response_store(f"jsonl:///{tmp_path}/j")
    with pytest.raises(ConfigurationError, match=r"does not offer an agent session store.*sqlite"):
        open_session_store(f"jsonl:///{tmp_path}/j")
