"""Forty users at once on one shared agent and one provider stay apart; unbound requests share one partition.

Drives ``examples/serving/concurrent_users.py`` (what docs/serving.md's numbers come from) in-process on every
local backend and over HTTP against a real ``ResponsesHostServer``. Only outcomes are asserted, never times.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from agent_framework import Agent

from agent_framework_history import HistoryStoreProvider, SessionKey, open_store
from agent_framework_history.testing import RecallChatClient

from ._host import fresh_store_url, serve

ROOT = Path(__file__).resolve().parents[2]
USERS = 40
TURNS = 3


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    name = "concurrent_users_example"
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "serving" / "concurrent_users.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]


@pytest.fixture(params=["memory", "sqlite", "jsonl", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(request.param, tmp_path, "concurrent") as url:
        yield url


def test_forty_bound_users_on_one_agent_stay_apart(example: ModuleType, store_url: str) -> None:
    outcome = asyncio.run(example.run_in_process(store_url, USERS, TURNS))
    assert outcome.problems == []
    assert len(outcome.latencies) == USERS * TURNS


def test_the_checker_reports_a_history_that_is_not_the_users(example: ModuleType, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/planted.db"

    async def plant() -> None:  # an earlier turn of user001 under the shared session id
        async with open_store(url) as store:
            item = {"type": "message", "id": "msg_x", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
            await store.append(SessionKey(example.SESSION_ID, user="user001"), [item])

    asyncio.run(plant())
    outcome = asyncio.run(example.run_in_process(url, 3, 2))
    assert any(p.startswith("user001, turn 0:") for p in outcome.problems), outcome.problems
    assert any(p.startswith("user001's stored history:") for p in outcome.problems), outcome.problems
    assert not any(p.startswith(("user000", "user002")) for p in outcome.problems), outcome.problems


@pytest.mark.asyncio
async def test_requests_without_a_bound_user_share_the_anonymous_partition(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/anonymous.db")
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider(store)])
    await agent.run("first caller", session=agent.create_session(session_id="support"))
    reply = await agent.run("second caller", session=agent.create_session(session_id="support"))
    assert reply.text == "Seen 2 earlier messages. You said: second caller"  # the first caller's turn
    assert len(await store.load(SessionKey("support"))) == 4
    await store.aclose()


@pytest.mark.slow
def test_forty_users_over_http_on_one_host_stay_apart(example: ModuleType, tmp_path: Path) -> None:
    state_root = tmp_path / "agentserver"
    state_root.mkdir()
    args = ["--store", f"sqlite:///{tmp_path}/served.db"]
    with serve(args, state_root=state_root, log=state_root / "host.log") as server:
        outcome = asyncio.run(example.run_over_http(server.port, USERS, TURNS))
    assert outcome.problems == []
    assert len(outcome.latencies) == USERS * TURNS
