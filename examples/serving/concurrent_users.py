"""Many users at once on one shared agent: are they kept apart, and what does each request cost?

    python examples/serving/concurrent_users.py --store sqlite:///./.af-history/concurrent.db
    python examples/serving/concurrent_users.py --users 40 --turns 3 --store postgresql://postgres@127.0.0.1/test
    python examples/serving/concurrent_users.py --port 8088      # against a running server.py, over HTTP

In-process (``--store``): one ``Agent`` with one ``HistoryStoreProvider``; every user is a task that binds its
own user with ``bind_request_context`` and talks to a session with the **same session id** as every other
user's, so only the partition keeps the histories apart. All users start at once and send their turns one after
another. Over HTTP (``--port``): the same, through ``ResponsesHostServer`` with the official ``openai`` client,
the user in ``x-agent-user-id`` and each turn continuing the user's previous response.

The model is ``RecallChatClient`` (offline, answers at once), so the times are what the framework, the host and
the store add to a request, not a model's latency. Each answer must say it saw exactly the user's own earlier
messages (``Seen 2k earlier messages. You said: <user> <k>``); in-process, each user's stored history must hold
that user's messages and nothing else. Any mismatch is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field

from agent_framework import Agent

from agent_framework_history import HistoryStoreProvider, SessionKey, bind_request_context
from agent_framework_history.testing import RecallChatClient

SESSION_ID = "shared-session-id"

# The offline client calls no tools, which agent-framework mentions with a warning on every Agent.
logging.getLogger("agent_framework").setLevel(logging.ERROR)


@dataclass
class Outcome:
    """What a run saw: seconds per request, wrong answers or histories, and the wall-clock time."""

    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    wall: float = 0.0

    def summary(self, users: int, turns: int) -> str:
        ms = sorted(1000 * s for s in self.latencies)
        p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
        return (
            f"{users} users x {turns} turns = {len(ms)} requests in {self.wall:.2f} s "
            f"({len(ms) / self.wall:.0f} requests/s); per request: median {statistics.median(ms):.1f} ms, "
            f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms; {len(self.problems)} isolation problems"
        )


def expected(user: str, turn: int) -> str:
    return f"Seen {2 * turn} earlier messages. You said: {user} {turn}"


def said(user: str, turn: int) -> str:
    return f"{user} {turn}"


async def run_in_process(store_url: str | None, users: int, turns: int) -> Outcome:
    """``users`` concurrent users, ``turns`` turns each, on one agent whose provider opens ``store_url``.

    ``None``: the store the selector picks.
    """
    provider = HistoryStoreProvider(store_url)
    agent = Agent(client=RecallChatClient(), context_providers=[provider])
    outcome = Outcome()
    start = asyncio.Event()

    async def converse(user: str) -> None:
        session = agent.create_session(session_id=SESSION_ID)
        await start.wait()
        for turn in range(turns):
            began = time.perf_counter()
            with bind_request_context(user=user):
                reply = await agent.run(said(user, turn), session=session)
            outcome.latencies.append(time.perf_counter() - began)
            if reply.text != expected(user, turn):
                outcome.problems.append(f"{user}, turn {turn}: {reply.text!r}")

    names = [f"user{n:03d}" for n in range(users)]
    tasks = [asyncio.create_task(converse(name)) for name in names]
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    outcome.wall = time.perf_counter() - began

    for name in names:  # what was stored: each user's own messages, and the model's answers to them
        items = await provider.store.load(SessionKey(SESSION_ID, user=name))
        texts = [part["text"] for item in items for part in item.get("content", []) if "text" in part]
        want = [text for turn in range(turns) for text in (said(name, turn), expected(name, turn))]
        if texts != want:
            outcome.problems.append(f"{name}'s stored history: {texts!r}")
    await provider.aclose()
    return outcome


async def run_over_http(port: int, users: int, turns: int) -> Outcome:
    """The same against ``server.py`` on ``port``: the user in ``x-agent-user-id``, chained by response id."""
    from openai import AsyncOpenAI

    outcome = Outcome()
    start = asyncio.Event()

    async def converse(user: str) -> None:
        client = AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}",
            api_key="unused-locally",
            default_headers={"x-agent-user-id": user},
            max_retries=0,
            timeout=120,
        )
        previous: str | None = None
        await start.wait()
        for turn in range(turns):
            began = time.perf_counter()
            response = await client.responses.create(
                model="recall", input=said(user, turn), previous_response_id=previous
            )
            outcome.latencies.append(time.perf_counter() - began)
            previous = response.id
            if response.status != "completed" or response.output_text != expected(user, turn):
                outcome.problems.append(f"{user}, turn {turn}: {response.status} {response.output_text!r}")
        await client.close()

    tasks = [asyncio.create_task(converse(f"user{n:03d}")) for n in range(users)]
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    outcome.wall = time.perf_counter() - began
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--store", help="in-process, on this store URL (default: the selector's store)")
    target.add_argument("--port", type=int, help="over HTTP, against server.py listening on this port")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    if args.port is not None:
        outcome = asyncio.run(run_over_http(args.port, args.users, args.turns))
    else:
        outcome = asyncio.run(run_in_process(args.store, args.users, args.turns))
    for problem in outcome.problems:
        print(problem, file=sys.stderr)
    print(outcome.summary(args.users, args.turns))
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
