"""Two ResponsesHostServer processes sharing one database through open_response_store / open_session_store.

Driven over HTTP by the official ``openai`` client, as users drive them: a chain started on one
replica continues on the other, survives both restarting, forks from an earlier response see only
their own chain, and a second user cannot continue the first user's response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import openai
import pytest

from ._host import HostProcess, fresh_store_url, reply, seen, serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "serving" / "database_host.py"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store_url(request.param, tmp_path, "host") as url:
        yield url


def replicas(store_url: str, tmp_path: Path, stack: ExitStack) -> tuple[HostProcess, HostProcess]:
    servers = []
    for name in ("a", "b"):
        state = tmp_path / f"replica-{name}"  # separate state roots: only the database is shared
        state.mkdir(exist_ok=True)
        servers.append(
            stack.enter_context(serve(["--store", store_url], state_root=state, log=state / "host.log", script=SCRIPT))
        )
    return servers[0], servers[1]


def test_replicas_continue_each_others_chains(store_url: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a, b = replicas(store_url, tmp_path, stack)
        r1, text = reply(a.client("alice"), "one")
        assert seen(text) == 0
        r2, text = reply(b.client("alice"), "two", r1, stream=True)
        assert seen(text) == 2
        r3, text = reply(a.client("alice"), "three", r2)
        assert seen(text) == 4
        fork, text = reply(b.client("alice"), "fork of one", r1)
        assert seen(text) == 2
        _, text = reply(a.client("alice"), "on the fork", fork, stream=True)
        assert seen(text) == 4
        # Bob, and a caller with no user, cannot continue alice's response on either replica.
        for server, user in ((b, "bob"), (a, None)):
            refused = server.client(user).responses.create(model="recall", input="hi", previous_response_id=r3)
            assert refused.status == "failed"
            assert refused.error is not None and "Cannot find an existing agent session" in refused.error.message
            assert refused.output_text == ""
        b1, text = reply(b.client("bob"), "bob one")
        assert seen(text) == 0
        assert a.client("alice").responses.retrieve(r2).output_text == "Seen 2 earlier messages. You said: two"
        with pytest.raises(openai.NotFoundError):
            b.client("bob").responses.retrieve(r2)

    with ExitStack() as stack:  # both restart: the chain goes on
        a, b = replicas(store_url, tmp_path, stack)
        r4, text = reply(b.client("alice"), "four", r3)
        assert seen(text) == 6
        _, text = reply(a.client("alice"), "five", r4, stream=True)
        assert seen(text) == 8
        _, text = reply(a.client("bob"), "bob two", b1)
        assert seen(text) == 2


def test_what_the_host_stored_is_what_af_history_sees(store_url: str, tmp_path: Path) -> None:
    from agent_framework_history import ALL, open_store

    with ExitStack() as stack:
        a, b = replicas(store_url, tmp_path, stack)
        r1, _ = reply(a.client("carol"), "carol one")
        reply(b.client("carol"), "carol two", r1)

    async def stored() -> list[tuple[str | None, list[str]]]:
        async with open_store(store_url) as store:
            found = []
            async for key in store.list_sessions(user=ALL, chat=ALL):
                items = await store.load(key)
                texts = [part.get("text", "") for item in items for part in item.get("content", [])]
                found.append((key.user, texts))
            return found

    [(user, texts)] = asyncio.run(stored())
    assert user == "carol"
    assert texts == [
        "carol one",
        "Seen 0 earlier messages. You said: carol one",
        "carol two",
        "Seen 2 earlier messages. You said: carol two",
    ]
