"""The agent served the way users serve it: ResponsesHostServer child processes, the official ``openai`` client.

``examples/serving/server.py`` runs an agent whose model (``RecallChatClient``) answers with how many
earlier messages it was shown, with ``HistoryStoreProvider`` on each backend and
``history_source="agent"``. The checks: chains, a restart of the server, isolation between users
and the anonymous caller (even with another user's response id), forks and retries from earlier
response ids, streamed and non-streamed requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._host import fresh_store_url, reply, seen, serve

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "jsonl", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(request.param, tmp_path, "served") as url:
        yield url


@pytest.fixture
def state_root(tmp_path: Path) -> Path:
    root = tmp_path / "agentserver"
    root.mkdir()
    return root


def host(store_url: str, state_root: Path) -> serve:  # type: ignore[valid-type]
    return serve(["--store", store_url], state_root=state_root, log=state_root / "host.log")


def test_chain_restart_users_forks_and_retries(store_url: str, state_root: Path) -> None:
    with host(store_url, state_root) as server:
        alice = server.client("alice")
        r1, text = reply(alice, "one")
        assert seen(text) == 0
        r2, text = reply(alice, "two", r1, stream=True)
        assert seen(text) == 2
        r3, text = reply(alice, "three", r2)
        assert seen(text) == 4

        # Another user, and a caller with no user at all, holding alice's response id.
        _, text = reply(server.client("bob"), "bob here", r3)
        assert seen(text) == 0
        _, text = reply(server.client(None), "anonymous", r3, stream=True)
        assert seen(text) == 0

    # A new server process on the same store and state: the chain goes on.
    with host(store_url, state_root) as server:
        alice = server.client("alice")
        r4, text = reply(alice, "four", r3, stream=True)
        assert seen(text) == 6

        # Forks and retries continue exactly the chain that ended at the response they name.
        fork1, text = reply(alice, "fork of one", r1)
        assert seen(text) == 2
        _, text = reply(alice, "fork of two", r2, stream=True)
        assert seen(text) == 4
        _, text = reply(alice, "retry of four", r3)
        assert seen(text) == 6
        _, text = reply(alice, "retry of four again", r3)
        assert seen(text) == 6
        _, text = reply(alice, "on the fork", fork1)
        assert seen(text) == 4
        _, text = reply(alice, "after four", r4)
        assert seen(text) == 8

        # Bob's own conversation is his alone, and alice's ids do not reach into it.
        b1, text = reply(server.client("bob"), "bob one")
        assert seen(text) == 0
        _, text = reply(server.client("bob"), "bob two", b1)
        assert seen(text) == 2
        _, text = reply(server.client("alice"), "alice with bob's id", b1)
        assert seen(text) == 0


def test_many_users_at_once_stay_apart(store_url: str, state_root: Path) -> None:
    with host(store_url, state_root) as server:

        def converse(user: str) -> list[int]:
            client = server.client(user)
            counts: list[int] = []
            previous = None
            for n in range(3):
                previous, text = reply(client, f"{user} {n}", previous, stream=n % 2 == 1)
                counts.append(seen(text))
                assert text.endswith(f"You said: {user} {n}")
            return counts

        async def everyone() -> list[list[int]]:
            return await asyncio.gather(*(asyncio.to_thread(converse, f"user{n}") for n in range(6)))

        assert asyncio.run(everyone()) == [[0, 2, 4]] * 6


def test_stored_transcript_is_the_users(store_url: str, state_root: Path) -> None:
    """What the host stored through the provider is in the user's partition, visible to ``af-history``."""
    from agent_framework_history import ALL, open_store

    with host(store_url, state_root) as server:
        r1, _ = reply(server.client("carol"), "carol one")
        reply(server.client("carol"), "carol two", r1)
        reply(server.client(None), "nobody")

    async def partitions() -> dict[str | None, list[str]]:
        found: dict[str | None, list[str]] = {}
        async with open_store(store_url) as store:
            async for key in store.list_sessions(user=ALL, chat=ALL):
                items = await store.load(key)
                texts = [part["text"] for item in items for part in item.get("content", []) if "text" in part]
                found.setdefault(key.user, []).extend(texts)
        return found

    found = asyncio.run(partitions())
    assert set(found) == {"carol", None}
    assert [t for t in found["carol"] if not t.startswith("Seen")] == ["carol one", "carol two"]
    assert [t for t in found[None] if not t.startswith("Seen")] == ["nobody"]


def test_a_killed_server_loses_no_finished_turn(store_url: str, state_root: Path) -> None:
    """SIGKILL after two turns (no shutdown): a new process continues the chain and its forks."""
    log = state_root / "host.log"
    with serve(["--store", store_url], state_root=state_root, log=log, kill=True) as server:
        r1, _ = reply(server.client("dana"), "one")
        r2, text = reply(server.client("dana"), "two", r1, stream=True)
        assert seen(text) == 2
    with serve(["--store", store_url], state_root=state_root, log=log) as server:
        _, text = reply(server.client("dana"), "three", r2)
        assert seen(text) == 4
        _, text = reply(server.client("dana"), "again from one", r1, stream=True)
        assert seen(text) == 2
        _, text = reply(server.client("erin"), "erin with dana's id", r2)
        assert seen(text) == 0
