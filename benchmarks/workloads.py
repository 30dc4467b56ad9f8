"""The shared workload: N turns of a user and an assistant message, then load() and load(limit=20)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from _harness import Checkpoints, Row, best_of
from agent_framework import FileHistoryProvider, InMemoryHistoryProvider, Message

from agent_framework_history import HistoryStoreProvider, open_store

SESSION = "bench-session"


def turn_messages(n: int) -> list[Message]:
    return [
        Message("user", [f"Question number {n}: what is the weather like in city {n % 97}?"]),
        Message("assistant", [f"Answer {n}: it is sunny in city {n % 97}, about {n % 35} degrees."]),
    ]


async def run_provider(name: str, kind: str, provider: Any, turns: int, *, load: bool = True) -> Row:
    """Append ``turns`` turns through an agent-framework HistoryProvider, then time loads."""
    state: dict[str, Any] = {}
    batches = [turn_messages(n) for n in range(turns)]
    checkpoints = Checkpoints(turns)
    for done, batch in enumerate(batches, start=1):
        await provider.save_messages(SESSION, batch, state=state)
        checkpoints.tick(done)
    append_s = time.perf_counter() - checkpoints.start
    row = Row(name, kind, turns, append_s, curve=checkpoints.curve)
    if load:
        loaded = await provider.get_messages(SESSION, state=state)
        if len(loaded) != 2 * turns:
            raise AssertionError(f"{name}: loaded {len(loaded)} messages, expected {2 * turns}")
        row.load_all_s = await best_of(3, lambda: provider.get_messages(SESSION, state=state))
    return row


async def run_backend(name: str, target: str, turns: int) -> Row:
    store = open_store(target)
    try:
        # The message cache off: the load columns measure reading and converting the whole history
        # (sections/provider.py measures turns with the cache).
        provider = HistoryStoreProvider(store, cache_messages=0)
        row = await run_provider(name, "backend", provider, turns)
        limited = HistoryStoreProvider(store, limit=20)
        row.load_20_s = await best_of(5, lambda: limited.get_messages(SESSION, state={}))
        return row
    finally:
        await store.aclose()


async def run_file_history(tmp: Path, turns: int) -> Row:
    return await run_provider("FileHistoryProvider", "anchor", FileHistoryProvider(tmp / "file-history"), turns)


async def run_in_memory_history(turns: int) -> Row:
    return await run_provider("InMemoryHistoryProvider", "anchor", InMemoryHistoryProvider(), turns)


async def run_raw_append(tmp: Path, turns: int) -> Row:
    """The floor: json.dumps of each message dict and one open-append-close per turn."""
    path = tmp / "raw.jsonl"
    batches = [turn_messages(n) for n in range(turns)]
    checkpoints = Checkpoints(turns)
    for done, batch in enumerate(batches, start=1):
        text = "".join(json.dumps(m.to_dict(), ensure_ascii=False) + "\n" for m in batch)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        checkpoints.tick(done)
    append_s = time.perf_counter() - checkpoints.start
    return Row("raw json.dumps + append", "anchor", turns, append_s, curve=checkpoints.curve)


def _sdk_items(n: int, response_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    user, assistant = turn_messages(n)
    user_item = {
        "type": "message",
        "id": f"msg_{uuid.uuid4().hex}",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": user.text}],
    }
    assistant_item = {
        "type": "message",
        "id": f"msg_{uuid.uuid4().hex}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": assistant.text, "annotations": []}],
    }
    return user_item, assistant_item


async def run_sdk_store(name: str, store: Any, turns: int) -> Row:
    """The SDK host's own write path: read the chain's ids, then create a response carrying them."""
    from azure.ai.agentserver.responses._id_generator import IdGenerator

    previous: str | None = None
    checkpoints = Checkpoints(turns)
    for n in range(turns):
        history = await store.get_history_item_ids(previous, None, -1) if previous else []
        response_id = IdGenerator.new_response_id(previous or "")
        user_item, assistant_item = _sdk_items(n, response_id)
        response = {
            "id": response_id,
            "object": "response",
            "status": "completed",
            "created_at": 0,
            "output": [assistant_item],
            "background": False,
            "parallel_tool_calls": False,
            "instructions": "",
            "agent_reference": {"name": "bench"},
        }
        if previous:
            response["previous_response_id"] = previous
        await store.create_response(response, [user_item], history)
        previous = response_id
        checkpoints.tick(n + 1)
    append_s = time.perf_counter() - checkpoints.start
    row = Row(name, "anchor", turns, append_s, curve=checkpoints.curve)

    async def load_all() -> list[Any]:
        ids = await store.get_history_item_ids(previous, None, -1)
        return list(await store.get_items(ids))

    async def load_20() -> list[Any]:
        ids = await store.get_history_item_ids(previous, None, 20)
        return list(await store.get_items(ids))

    if len(await load_all()) != 2 * turns:
        raise AssertionError(f"{name}: chain does not hold {2 * turns} items")
    row.load_all_s = await best_of(3, load_all)
    row.load_20_s = await best_of(5, load_20)
    return row
