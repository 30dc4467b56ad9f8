"""A real ResponsesHostServer child process whose agent keeps its history in (fake) Foundry storage.

The fake storage service (``FakeFoundryStorage``, loopback HTTPS with a throwaway CA) runs in this
process; the host runs in a child (``_foundry_host.py``) that trusts the CA, and the official
``openai`` client drives it with the platform's ``x-agent-user-id`` / ``x-agent-foundry-call-id``
headers. The model (``RecallChatClient``) answers with how many earlier messages it was shown.

Hosted: the host stores each turn in Foundry storage itself, so the history store writes nothing
and reads the host's chain: one ``create`` per turn. Local: the host keeps its responses elsewhere
and the history store writes its own chain to Foundry storage.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_framework_history_foundry import ORIGINAL_ID_KEY
from agent_framework_history_foundry.testing import FakeFoundryStorage, RecordedRequest, make_loopback_tls

from ._host import HostProcess, reply, serve

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("_foundry_host.py")
CALL_ID = "x-agent-foundry-call-id"


def seen(text: str) -> int:
    """How many earlier messages the model says it was shown."""
    prefix = "Seen "
    assert text.startswith(prefix), text
    return int(text[len(prefix) :].split(" ", 1)[0])


@dataclass
class Storage:
    """The fake, served from its own event loop on a thread of this process."""

    fake: FakeFoundryStorage
    loop: asyncio.AbstractEventLoop

    def requests(self) -> list[RecordedRequest]:
        return asyncio.run_coroutine_threadsafe(self._snapshot(), self.loop).result(10)

    async def _snapshot(self) -> list[RecordedRequest]:
        return list(self.fake.requests)

    def creates(self) -> list[RecordedRequest]:
        return [r for r in self.requests() if r.operation == "create"]


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    tls = make_loopback_tls(tmp_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-foundry-storage", daemon=True)
    thread.start()
    fake = FakeFoundryStorage(tls)
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(30)
    try:
        yield Storage(fake, loop)
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def host(storage: Storage, tmp_path: Path, mode: str, env: dict[str, str]) -> Any:
    state_root = tmp_path / f"agentserver-{mode}"
    state_root.mkdir()
    child_env = {"SSL_CERT_FILE": str(storage.fake.tls.ca_file), **env}
    return serve(
        ["--endpoint", storage.fake.endpoint, "--mode", mode],
        state_root=state_root,
        log=state_root / "host.log",
        env=child_env,
        script=SCRIPT,
    )


def turn(
    server: HostProcess, user: str, call: str, text: str, previous: str | None = None, *, stream: bool = False
) -> tuple[str, int]:
    """One request as the platform sends it: the user and a fresh call id per request."""
    response_id, answer = reply(server.client(user, call_id=call), text, previous, stream=stream)
    assert answer.endswith(f"You said: {text}"), answer
    return response_id, seen(answer)


def hosted_env(storage: Storage) -> dict[str, str]:
    return {
        "FOUNDRY_HOSTING_ENVIRONMENT": "test",
        "FOUNDRY_PROJECT_ENDPOINT": storage.fake.endpoint,
        "FOUNDRY_AGENT_NAME": "recall",
        "FOUNDRY_AGENT_VERSION": "1",
        "FOUNDRY_AGENT_SESSION_ID": "container-session-1",
    }


def test_hosted_the_host_stores_each_turn_once(storage: Storage, tmp_path: Path) -> None:
    with host(storage, tmp_path, "hosted", hosted_env(storage)) as server:
        r1, count = turn(server, "alice", "call-a1", "one")
        assert count == 0
        r2, count = turn(server, "alice", "call-a2", "two", r1)
        assert count == 2
        r3, count = turn(server, "alice", "call-a3", "three", r2)
        assert count == 4
        fork, count = turn(server, "alice", "call-a4", "fork of one", r1)
        assert count == 2
        after_fork, count = turn(server, "alice", "call-a5", "on the fork", fork)
        assert count == 4

        requests = storage.requests()
        creates = [r for r in requests if r.operation == "create"]
        # One create per turn, and it is the host's own response: nothing written twice.
        assert [r.body["response"]["id"] for r in creates] == [r1, r2, r3, fork, after_fork]
        assert all(ORIGINAL_ID_KEY not in item for r in creates for item in r.body["input_items"])
        assert [r.headers.get(CALL_ID) for r in creates] == ["call-a1", "call-a2", "call-a3", "call-a4", "call-a5"]
        # Every storage request (the host's and the history store's reads) carries the request's call id.
        assert [r for r in requests if not r.headers.get(CALL_ID)] == []
        # The history store only read, and what it read were the host's chains.
        ours = [r for r in requests if r.headers["Authorization"] == "Bearer store"]
        assert ours and {r.operation for r in ours} == {"history", "items"}
        assert [r.query["previous_response_id"] for r in ours if r.operation == "history"] == [r1, r2, r1, fork]
        assert [r.headers[CALL_ID] for r in ours if r.operation == "history"] == [
            "call-a2",
            "call-a3",
            "call-a4",
            "call-a5",
        ]
        # The chains are the host's: the fork shares turn one and nothing of turns two and three.
        assert len(storage.fake.chain_ids(r3)) == 6 and len(storage.fake.chain_ids(after_fork)) == 6
        assert storage.fake.chain_ids(after_fork)[:2] == storage.fake.chain_ids(r3)[:2]
        assert not set(storage.fake.chain_ids(after_fork)[2:]) & set(storage.fake.chain_ids(r3))

        # Bob holding alice's response id gets none of her conversation: the host finds no session of
        # his for it (sessions are kept per user) and refuses the request before the agent runs.
        before = storage.requests()
        refused = server.client("bob", call_id="call-b1").responses.create(
            model="recall", input="bob here", previous_response_id=r3
        )
        assert refused.status == "failed" and refused.output == []
        assert refused.error is not None and "Cannot find an existing agent session" in refused.error.message
        bobs_reads = [r for r in storage.requests()[len(before) :] if r.operation == "items"]
        assert bobs_reads == []  # no item of alice's chain was fetched for bob
        b1, count = turn(server, "bob", "call-b2", "bob alone")
        assert count == 0
        _, count = turn(server, "bob", "call-b3", "bob again", b1)
        assert count == 2


def test_local_host_the_history_store_writes_its_own_chain(storage: Storage, tmp_path: Path) -> None:
    with host(storage, tmp_path, "local", {}) as server:
        r1, count = turn(server, "alice", "call-a1", "one")
        assert count == 0
        r2, count = turn(server, "alice", "call-a2", "two", r1, stream=True)
        assert count == 2
        _, count = turn(server, "alice", "call-a3", "three", r2)
        assert count == 4
        _, count = turn(server, "alice", "call-a4", "fork of one", r1)
        assert count == 2
        _, count = turn(server, "bob", "call-b1", "bob with alice's id", r2, stream=True)
        assert count == 0

        requests = storage.requests()
        creates = [r for r in requests if r.operation == "create"]
        # The host's responses stay in its own store; the history store writes one response per turn,
        # with ids of its own (not the host's), each item keeping its original id.
        assert len(creates) == 5
        assert not {r.body["response"]["id"] for r in creates} & {r1, r2}
        assert all(ORIGINAL_ID_KEY in item for r in creates for item in r.body["input_items"])
        assert [r.headers.get(CALL_ID) for r in creates] == ["call-a1", "call-a2", "call-a3", "call-a4", "call-b1"]
        assert [r for r in requests if not r.headers.get(CALL_ID)] == []
        assert creates[-1].body["history_item_ids"] == []  # bob's turn did not continue alice's chain


def test_hosted_streamed_turns_are_stored_once(storage: Storage, tmp_path: Path) -> None:
    with host(storage, tmp_path, "hosted", hosted_env(storage)) as server:
        r1, count = turn(server, "alice", "call-s1", "one", stream=True)
        assert count == 0
        r2, count = turn(server, "alice", "call-s2", "two", r1, stream=True)
        assert count == 2
        assert [r.body["response"]["id"] for r in storage.creates()] == [r1, r2]
