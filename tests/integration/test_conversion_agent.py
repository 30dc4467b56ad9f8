"""An agent run with reasoning, tool calls and an approval, saved and loaded through the memory backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from agent_framework import (
    Agent,
    BaseChatClient,
    ChatResponse,
    Content,
    FunctionInvocationLayer,
    Message,
    tool,
)

from agent_framework_history import HistoryStoreProvider, SessionKey
from agent_framework_history.conversion import EXTENSION_KEY, to_messages


@tool(approval_mode="never_require")
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18°C in {city}"


@tool(approval_mode="always_require")
def delete_file(path: str) -> str:
    """Delete a file (needs the user's approval)."""
    return f"deleted {path}"


class ToolCallingClient(FunctionInvocationLayer[Any], BaseChatClient[Any]):
    """Offline model: reasons and calls ``get_weather`` for weather, calls ``delete_file`` for deletions,
    and answers with the tool output once a tool result is the last message."""

    OTEL_PROVIDER_NAME = "tool-calling"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[list[Message]] = []

    async def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any
    ) -> Any:
        assert not stream
        self.requests.append(list(messages))
        turn = len(self.requests)
        last = messages[-1]
        if last.role == "tool":
            results = [str(c.result) for c in last.contents if c.type == "function_result"]
            return ChatResponse(messages=[Message("assistant", ["Done: ", "; ".join(results)])])
        if "weather" in last.text:
            return ChatResponse(
                messages=[
                    Message(
                        "assistant",
                        [
                            Content.from_text_reasoning(id=f"rs_{turn}", text="Use the tool.", protected_data="enc=="),
                            Content.from_function_call(f"call_{turn}", "get_weather", arguments={"city": "Paris"}),
                        ],
                    )
                ]
            )
        if "delete" in last.text:
            call = Content.from_function_call(f"call_{turn}", "delete_file", arguments='{"path": "a.txt"}')
            return ChatResponse(messages=[Message("assistant", [call])])
        return ChatResponse(messages=[Message("assistant", ["ok"])])


class RecordingProvider(HistoryStoreProvider):
    """Keeps a copy of every message it saves, to compare with what it loads."""

    def __init__(self, store: str) -> None:
        super().__init__(store)
        self.saved: list[dict[str, Any]] = []

    async def save_messages(self, session_id: str | None, messages: Sequence[Message], **kwargs: Any) -> None:
        await super().save_messages(session_id, messages, **kwargs)
        self.saved.extend(message.to_dict() for message in messages)


@pytest.mark.asyncio
async def test_agent_run_with_tools_reasoning_and_approval_round_trips() -> None:
    provider = RecordingProvider("memory://conversion-agent")
    agent = Agent(client=ToolCallingClient(), tools=[get_weather, delete_file], context_providers=[provider])
    session = agent.create_session(session_id="conv")

    weather = await agent.run("what's the weather?", session=session)
    assert weather.text == "Done:  18°C in Paris"
    pending = await agent.run("please delete a.txt", session=session)
    (request,) = pending.user_input_requests
    assert request.type == "function_approval_request"
    done = await agent.run(Message("user", [request.to_function_approval_response(True)]), session=session)
    assert done.text == "Done:  deleted a.txt"

    items = await provider.store.load(SessionKey("conv"))
    types = [item["type"] for item in items]
    for expected in (
        "reasoning",
        "function_call",
        "function_call_output",
        "mcp_approval_request",
        "mcp_approval_response",
    ):
        assert expected in types
    assert all(EXTENSION_KEY in item and item["id"] for item in items)
    response_item = next(item for item in items if item["type"] == "mcp_approval_response")
    assert response_item["approval_request_id"] == request.id
    assert response_item["approve"] is True

    # Everything saved comes back exactly: roles, ids, authors, every content and its fields.
    loaded = await provider.get_messages("conv", state=session.state.get(provider.source_id))
    assert [m.to_dict() for m in loaded] == provider.saved
    assert [m.to_dict() for m in to_messages(items)] == provider.saved

    contents = [c for m in loaded for c in m.contents]
    reasoning = next(c for c in contents if c.type == "text_reasoning")
    assert (reasoning.text, reasoning.protected_data) == ("Use the tool.", "enc==")
    loaded_request = next(c for c in contents if c.type == "function_approval_request")
    loaded_response = next(c for c in contents if c.type == "function_approval_response")
    assert loaded_response.id == loaded_request.id == request.id
    assert loaded_response.function_call is not None and loaded_response.function_call.name == "delete_file"
    texts = [c.text for m in loaded if m.role == "assistant" for c in m.contents if c.type == "text"]
    assert texts[:2] == ["Done: ", "18°C in Paris"]  # fragments kept apart


@pytest.mark.asyncio
async def test_a_new_agent_continues_with_the_tool_history() -> None:
    url = "memory://conversion-agent-continue"
    first = Agent(client=ToolCallingClient(), tools=[get_weather], context_providers=[HistoryStoreProvider(url)])
    session = first.create_session(session_id="cont")
    await first.run("what's the weather?", session=session)

    client = ToolCallingClient()
    second = Agent(client=client, tools=[get_weather], context_providers=[HistoryStoreProvider(url)])
    await second.run("thanks", session=second.create_session(session_id="cont"))
    shown = client.requests[-1]
    assert [[c.type for c in m.contents] for m in shown[:4]] == [
        ["text"],
        ["text_reasoning", "function_call"],
        ["function_result"],
        ["text", "text"],
    ]
    call = shown[1].contents[1]
    assert (call.call_id, call.name, call.arguments) == ("call_1", "get_weather", {"city": "Paris"})
