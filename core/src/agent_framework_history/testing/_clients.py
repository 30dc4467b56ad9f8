"""Deterministic, offline chat clients for tests, examples and demos.

Both are built as agent-framework's own clients are: chat middleware, function invocation and
telemetry layered over ``BaseChatClient``, so an ``Agent`` runs its tools with them and does not warn
that the client "does not support function invoking".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from agent_framework import (
    BaseChatClient,
    ChatMiddlewareLayer,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    FunctionInvocationLayer,
    Message,
    ResponseStream,
)
from agent_framework.observability import ChatTelemetryLayer

__all__ = ["RecallChatClient", "ScriptedChatClient", "ToolCall"]


# The layers' get_response overloads differ in their keyword arguments, as in agent-framework's own clients.
class _OfflineClient(  # type: ignore[misc]  # pyright: ignore[reportIncompatibleMethodOverride]
    ChatMiddlewareLayer[Any],
    FunctionInvocationLayer[Any],
    ChatTelemetryLayer[Any],
    BaseChatClient[Any],
):
    """The layers every agent-framework chat client has, over one reply per request from :meth:`_contents`."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def _contents(self, messages: Sequence[Message]) -> list[Content]:
        raise NotImplementedError

    def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any
    ) -> Awaitable[ChatResponse] | ResponseStream[ChatResponseUpdate, ChatResponse]:
        self.calls.append([m.text for m in messages])
        contents = self._contents(messages)
        if stream:

            async def updates() -> AsyncIterator[ChatResponseUpdate]:
                yield ChatResponseUpdate(role="assistant", contents=contents)

            return self._build_response_stream(updates())

        async def respond() -> ChatResponse:
            return ChatResponse(messages=[Message("assistant", contents)])

        return respond()


class RecallChatClient(_OfflineClient):
    """Answers with what it was shown, so a test can tell whether history reached the model.

    Each reply reads ``"Seen N earlier messages. You said: <last user text>"``, where ``N``
    counts the messages before the last user message. ``calls`` records the text of every
    message of every request. Works streamed (``stream=True``, as every host runs agents) and not.
    """

    OTEL_PROVIDER_NAME = "recall"

    def reply_for(self, messages: Sequence[Message]) -> str:
        user_positions = [i for i, m in enumerate(messages) if m.role == "user"]
        last = user_positions[-1] if user_positions else len(messages)
        said = messages[last].text if user_positions else ""
        return f"Seen {last} earlier messages. You said: {said}"

    def _contents(self, messages: Sequence[Message]) -> list[Content]:
        return [Content.from_text(self.reply_for(messages))]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A reply of :class:`ScriptedChatClient` that asks to call the tool ``name`` with ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=lambda: {})
    call_id: str | None = None
    """Left out: ``call_<n>``, counted over the client's calls."""


Reply = str | ToolCall | Sequence[ToolCall]


def _is_reply(value: object) -> bool:
    """Whether ``value`` (as an untyped caller may pass it) is a str, a ToolCall or a non-empty list of ToolCalls."""
    if isinstance(value, (str, ToolCall)):
        return True
    replies = cast("Sequence[object]", value) if isinstance(value, Sequence) else ()
    return bool(replies) and all(isinstance(r, ToolCall) for r in replies)


class ScriptedChatClient(_OfflineClient):
    """Plays a script: each model request gets the next reply, a text or one or more tool calls.

    A :class:`ToolCall` reply makes the agent run that tool (agent-framework's function invocation)
    and ask again with the result, which gets the next reply; a list of them is parallel calls::

        client = ScriptedChatClient(
            ToolCall("get_weather", {"city": "Paris"}),
            "It is sunny in Paris.",
        )
        agent = Agent(client=client, tools=[get_weather])

    ``calls`` records the text of every message of every request, ``requests`` the messages
    themselves (tool results included). A request after the last reply raises ``RuntimeError``
    naming how many replies the script had.
    """

    OTEL_PROVIDER_NAME = "scripted"

    def __init__(self, *replies: Reply) -> None:
        super().__init__()
        for index, reply in enumerate(replies):
            if not _is_reply(reply):
                raise TypeError(
                    f"ScriptedChatClient reply {index} must be a str, a ToolCall or a non-empty list of ToolCalls, "
                    f"got {type(reply).__name__} {reply!r:.80}."
                )
        self.replies: list[Reply] = list(replies)
        self.requests: list[list[Message]] = []
        self._next = 0
        self._call_ids = 0

    @property
    def remaining(self) -> int:
        """Replies not played yet."""
        return len(self.replies) - self._next

    def _contents(self, messages: Sequence[Message]) -> list[Content]:
        self.requests.append(list(messages))
        if self._next >= len(self.replies):
            raise RuntimeError(
                f"ScriptedChatClient has played all {len(self.replies)} replies of its script and got request "
                f"{len(self.requests)}; give it one more reply."
            )
        reply = self.replies[self._next]
        self._next += 1
        if isinstance(reply, str):
            return [Content.from_text(reply)]
        return [self._call(call) for call in ([reply] if isinstance(reply, ToolCall) else reply)]

    def _call(self, call: ToolCall) -> Content:
        self._call_ids += 1
        call_id = call.call_id or f"call_{self._call_ids}"
        return Content.from_function_call(call_id, call.name, arguments=json.dumps(call.arguments))
