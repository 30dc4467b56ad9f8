"""Limited loads through agent-framework's own OpenAI Responses client, with HTTP mocked.

For every limit over transcripts with reasoning, tool calls, approvals and MCP calls, on every backend
(foundry on the SDK's in-memory provider): the history ``HistoryStoreProvider(limit=N)`` loads goes
through ``OpenAIChatClient`` (stateless replay, ``store=False``, so calls and reasoning are sent inline) and
the request body pairs every ``function_call_output`` with its ``function_call``, every
``mcp_approval_response`` with its request, and keeps the reasoning each call group needs (the client
refuses the request otherwise).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from agent_framework import Message
from agent_framework.openai import OpenAIChatClient
from openai import AsyncOpenAI

from agent_framework_history import HistoryStore, HistoryStoreProvider, SessionKey, open_store
from agent_framework_history.testing._transcripts import WINDOW_TRANSCRIPTS, window_transcript

from ._stores import BACKENDS, open_backend


def _response_body() -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_out",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "ok", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


class Recorder:
    """The mocked Responses endpoint: keeps each request body, answers "ok"."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=_response_body())


@pytest_asyncio.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    opened = open_backend(request.param, tmp_path)
    yield opened
    await opened.aclose()


def _problems(body: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    calls: set[str] = set()
    requests: set[str] = set()
    for item in body["input"]:
        kind = item.get("type")
        if kind == "function_call":
            calls.add(item["call_id"])
        elif kind == "mcp_approval_request":
            requests.add(item["id"])
        elif kind == "function_call_output" and item["call_id"] not in calls:
            problems.append(f"function_call_output {item['call_id']!r} before or without its function_call")
        elif kind == "mcp_approval_response" and item["approval_request_id"] not in requests:
            problems.append(f"mcp_approval_response {item['approval_request_id']!r} without its request")
    return problems


@pytest.mark.asyncio
@pytest.mark.parametrize("transcript", WINDOW_TRANSCRIPTS)
async def test_every_limited_history_is_a_request_the_responses_api_accepts(
    store: HistoryStore, transcript: str
) -> None:
    key = SessionKey(f"windows-{transcript}", user="windows-user")  # a partition of its own, whatever a host binds
    head = None
    for turn in window_transcript(transcript):
        head = (await store.append(key, turn, head=head)).head
    total = len(await store.load(key))
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    client = OpenAIChatClient(
        model="gpt-test", async_client=AsyncOpenAI(api_key="test", base_url="http://test/v1", http_client=http)
    )
    sent_outputs = 0
    for limit in range(1, total + 1):
        provider = HistoryStoreProvider(store, limit=limit, user=key.user)
        history = await provider.get_messages(key.session_id)
        await client.get_response([*history, Message("user", ["go on"])], options={"store": False})
        body = recorder.bodies[-1]
        assert _problems(body) == [], (limit, [i.get("type") for i in body["input"]])
        sent_outputs += sum(1 for item in body["input"] if item.get("type") == "function_call_output")
    assert sent_outputs > 0  # the windows did send tool results (with their calls)
    await http.aclose()


@pytest.mark.asyncio
async def test_a_cut_history_is_what_the_api_would_refuse() -> None:
    # The check above can fail: the same client, given the naive latest two items, sends an orphan result.
    store = open_store("memory://")
    key = SessionKey("naive")
    for turn in window_transcript("service"):
        await store.append(key, turn)
    everything = await store.load(key)
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    client = OpenAIChatClient(
        model="gpt-test", async_client=AsyncOpenAI(api_key="test", base_url="http://test/v1", http_client=http)
    )
    from agent_framework_history.conversion import to_messages

    naive = to_messages(everything[-3:])  # starts at the second function_call_output's sibling
    await client.get_response([*naive, Message("user", ["go on"])], options={"store": False})
    assert _problems(recorder.bodies[-1]) != []
    await http.aclose()
