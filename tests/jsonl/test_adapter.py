from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_framework import Message

from agent_framework_history import HistoryStoreProvider, SessionKey


@pytest.mark.asyncio
async def test_provider_round_trips_messages_through_jsonl_files(tmp_path: Path) -> None:
    provider = HistoryStoreProvider(f"jsonl://{tmp_path}", user="alice", limit=3)
    state: dict[str, Any] = {}
    for n in range(3):
        await provider.save_messages(
            "chat-1", [Message("user", [f"q{n}"]), Message("assistant", [f"a{n}"])], state=state
        )
    latest = await provider.get_messages("chat-1", state=state)
    assert [(m.role, m.text) for m in latest] == [("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]
    lines = (tmp_path / "alice" / "~none" / "chat-1.jsonl").read_text().splitlines()
    assert len(lines) == 9 and sum('"af_turn"' in line for line in lines) == 3  # 6 items, 3 turn markers
    store = provider.store
    assert [k async for k in store.list_sessions(user="alice")] == [SessionKey("chat-1", user="alice")]
    await provider.aclose()
