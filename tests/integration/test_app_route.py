"""The app-owned route example: the app binds its caller; users and sessions stay apart."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_example(monkeypatch: pytest.MonkeyPatch, store: str) -> ModuleType:
    monkeypatch.setenv("AF_HISTORY_STORE", store)
    spec = importlib.util.spec_from_file_location("app_route_example", ROOT / "examples" / "serving" / "app_route.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "app_route_example", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.asyncio
async def test_the_route_binds_each_caller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    example = load_example(monkeypatch, f"sqlite:///{tmp_path}/route.db")
    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:

        async def say(user: str | None, session: str, text: str) -> str:
            headers = {"x-user": user} if user else {}
            answer = await http.post("/chat", json={"session_id": session, "text": text}, headers=headers)
            assert answer.status_code == 200, answer.text
            reply: str = answer.json()["text"]
            return reply

        assert await say("alice", "s1", "one") == "Seen 0 earlier messages. You said: one"
        assert await say("alice", "s1", "two") == "Seen 2 earlier messages. You said: two"
        assert await say("bob", "s1", "bob") == "Seen 0 earlier messages. You said: bob"
        assert await say(None, "s1", "anon") == "Seen 0 earlier messages. You said: anon"
        assert await say("alice", "s1", "three") == "Seen 4 earlier messages. You said: three"
