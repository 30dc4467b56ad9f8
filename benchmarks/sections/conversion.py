"""Conversion speed: messages per second through ``to_items`` and ``to_messages`` on a realistic mix."""

from __future__ import annotations

import time
from collections.abc import Callable

from _harness import Check, Context
from agent_framework import Content, Message

from agent_framework_history.conversion import to_items, to_messages

NAME = None
GOAL = 50_000.0  # messages per second, each way


def realistic_mix(turns: int) -> list[Message]:
    """Per turn: a user question, an assistant reasoning + tool call, the tool result, the answer.

    Every message has a ``message_id`` (as the adapter stamps one before saving); every call has an
    agent-framework occurrence ``id``; one turn in five carries a two-fragment user message.
    """
    batch: list[Message] = []
    for turn in range(turns):
        user = ["What is the weather in Paris today?"] if turn % 5 else ["Compare", "Paris and Oslo, please."]
        call = Content.from_function_call(
            f"call_{turn}", "get_weather", arguments='{"city": "Paris", "unit": "celsius"}', id=f"fc_{turn}"
        )
        batch += [
            Message("user", user, message_id=f"msg_u{turn}"),
            Message(
                "assistant",
                [Content.from_text_reasoning(id=f"rs_{turn}", text="The user wants the weather; call the tool."), call],
                message_id=f"msg_a{turn}",
            ),
            Message(
                "tool",
                [Content.from_function_result(f"call_{turn}", result="18°C, light rain")],
                message_id=f"msg_t{turn}",
            ),
            Message("assistant", ["It is 18°C with light rain in Paris."], message_id=f"msg_r{turn}"),
        ]
    return batch


def _best_rate(count: int, fn: Callable[[], object], repeats: int = 30) -> float:
    """Messages per second of the fastest of ``repeats`` runs (wall clock; the machine may be shared)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return count / best


async def run(ctx: Context) -> None:
    messages = realistic_mix(250)  # 1,000 messages a run, many runs: the best run shows the cost
    items = to_items(messages)
    if [m.to_dict() for m in to_messages(items)] != [m.to_dict() for m in messages]:
        raise AssertionError("the benchmark mix does not round-trip")
    write = _best_rate(len(messages), lambda: to_items(messages))
    read = _best_rate(len(messages), lambda: to_messages(items))
    ctx.report.checks.append(
        Check("conversion to_items (messages → items)", write, GOAL, "msg/s", higher_is_better=True)
    )
    ctx.report.checks.append(
        Check("conversion to_messages (items → messages)", read, GOAL, "msg/s", higher_is_better=True)
    )
    ctx.report.notes.append(
        f"conversion: {len(messages)} messages ({len(items)} items; user text, reasoning + tool call, tool result, "
        f"answer), best of 30 runs: to_items {write:,.0f} msg/s, to_messages {read:,.0f} msg/s."
    )
