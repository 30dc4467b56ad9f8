"""The testing package's offline chat clients with agent-framework's real Agent, tools and a real store."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent, tool

from agent_framework_history import ALL, HistoryStoreProvider, open_store
from agent_framework_history.testing import RecallChatClient, ScriptedChatClient, ToolCall

WARNING = "does not support function invoking"

ran: list[tuple[str, Any]] = []


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    ran.append(("get_weather", city))
    return f"sunny in {city}, 21 C"


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    ran.append(("get_time", city))
    return f"noon in {city}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


@pytest.mark.asyncio
@pytest.mark.parametrize("client_type", [RecallChatClient, ScriptedChatClient])
async def test_an_agent_takes_the_clients_without_a_warning(
    client_type: type[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        client = client_type() if client_type is RecallChatClient else client_type("hello")
        agent = Agent(client=client, tools=[get_weather])
        reply = await agent.run("hi")
    assert reply.text in ("Seen 0 earlier messages. You said: hi", "hello")
    assert not [r for r in caplog.records if WARNING in r.getMessage()], caplog.text


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_scripted_tool_call_runs_the_tool_and_lands_in_the_store(tmp_path: Path, stream: bool) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    client = ScriptedChatClient(
        ToolCall("get_weather", {"city": "Paris"}),
        "It is sunny in Paris.",
        "You are welcome.",
    )
    provider = HistoryStoreProvider(url)
    agent = Agent(client=client, tools=[get_weather], context_providers=[provider])
    session = agent.create_session()
    if stream:
        first = await agent.run("Weather in Paris?", session=session, stream=True).get_final_response()
    else:
        first = await agent.run("Weather in Paris?", session=session)
    assert first.text == "It is sunny in Paris."
    assert ran == [("get_weather", "Paris")]
    # the second model request carried the call and the tool's result
    kinds = [[content.type for message in request for content in message.contents] for request in client.requests]
    assert kinds == [["text"], ["text", "function_call", "function_result"]]
    second = await agent.run("Thanks!", session=session)
    assert second.text == "You are welcome." and client.remaining == 0
    assert client.calls[-1][0] == "Weather in Paris?"  # the history reached the model
    await provider.aclose()

    async with open_store(url) as store:
        (key,) = [k async for k in store.list_sessions(user=ALL, chat=ALL)]
        items = await store.load(key)
    assert [item["type"] for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "message",
    ]
    assert json.loads(items[1]["arguments"]) == {"city": "Paris"} and items[1]["name"] == "get_weather"
    assert items[1]["call_id"] == items[2]["call_id"] == "call_1"
    assert "sunny in Paris" in items[2]["output"]


@pytest.mark.asyncio
async def test_parallel_calls_and_chosen_call_ids() -> None:
    client = ScriptedChatClient(
        [ToolCall("get_weather", {"city": "Oslo"}, call_id="w"), ToolCall("get_time", {"city": "Oslo"})],
        "Sunny, and it is noon.",
    )
    reply = await Agent(client=client, tools=[get_weather, get_time]).run("Oslo?")
    assert reply.text == "Sunny, and it is noon."
    assert sorted(ran) == [("get_time", "Oslo"), ("get_weather", "Oslo")]
    calls = [c for m in client.requests[1] for c in m.contents if c.type == "function_call"]
    assert [c.call_id for c in calls] == ["w", "call_2"]  # counted over every call, named or not


@pytest.mark.asyncio
async def test_a_script_that_runs_out_says_so() -> None:
    client = ScriptedChatClient("only one")
    agent = Agent(client=client)
    assert (await agent.run("first")).text == "only one"
    with pytest.raises(RuntimeError, match="played all 1 replies of its script and got request 2"):
        await agent.run("second")


@pytest.mark.parametrize("reply", [42, [], ["text"], {"name": "x"}])
def test_a_reply_that_is_neither_text_nor_tool_calls_is_refused(reply: Any) -> None:
    with pytest.raises(TypeError, match="reply 1 must be a str, a ToolCall or a non-empty list of ToolCalls"):
        ScriptedChatClient("fine", reply)
