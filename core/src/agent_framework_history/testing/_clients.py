"""A deterministic, offline chat client for tests, examples and demos."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from agent_framework import BaseChatClient, ChatResponse, ChatResponseUpdate, Content, Message, ResponseStream

__all__ = ["RecallChatClient"]


class RecallChatClient(BaseChatClient):
    """Answers with what it was shown, so a test can tell whether history reached the model.

    Each reply reads ``"Seen N earlier messages. You said: <last user text>"``, where ``N``
    counts the messages before the last user message. ``calls`` records the text of every
    message of every request. Works streamed (``stream=True``, as every host runs agents) and not.
    """

    OTEL_PROVIDER_NAME = "recall"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def reply_for(self, messages: Sequence[Message]) -> str:
        user_positions = [i for i, m in enumerate(messages) if m.role == "user"]
        last = user_positions[-1] if user_positions else len(messages)
        said = messages[last].text if user_positions else ""
        return f"Seen {last} earlier messages. You said: {said}"

    def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any
    ) -> Awaitable[ChatResponse] | ResponseStream[ChatResponseUpdate, ChatResponse]:
        self.calls.append([m.text for m in messages])
        text = self.reply_for(messages)
        if stream:

            async def updates() -> AsyncIterator[ChatResponseUpdate]:
                yield ChatResponseUpdate(role="assistant", contents=[Content.from_text(text)])

            return self._build_response_stream(updates())

        async def respond() -> ChatResponse:
            return ChatResponse(messages=[Message("assistant", [text])])

        return respond()
