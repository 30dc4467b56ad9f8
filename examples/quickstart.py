"""Quick start: an agent whose conversation outlives the process.

    python examples/quickstart.py            # two turns in a new session, then exit
    python examples/quickstart.py --resume   # a new process picks the session up again
    af-history show <session id>             # the stored transcript

The history goes to the store the selector picks (with nothing configured: the embedded SQLite
database ``./.af-history/history.db``). The session itself (its id and the adapter's state) is
kept in ``./.af-history/quickstart-session.json`` between the two runs. The chat client is
``RecallChatClient``: offline and deterministic, it answers with how many earlier messages it was
shown, so you can see the second process's model received the first process's turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from agent_framework import Agent, AgentSession

from agent_framework_history import HistoryStoreProvider, resolve_target
from agent_framework_history.testing import RecallChatClient

SESSION_FILE = Path(".af-history") / "quickstart-session.json"

# The offline client calls no tools, which agent-framework mentions with a warning on every Agent.
logging.getLogger("agent_framework").setLevel(logging.ERROR)


def make_agent(client: RecallChatClient) -> Agent:
    return Agent(client=client, name="quickstart", context_providers=[HistoryStoreProvider()])


async def ask(agent: Agent, session: AgentSession, question: str) -> None:
    reply = await agent.run(question, session=session)
    print(f"  user:  {question}\n  agent: {reply.text}")


async def first_run() -> None:
    agent = make_agent(RecallChatClient())
    session = agent.create_session()
    print(f"Process 1: new session {session.session_id}, history in {resolve_target().target}")
    await ask(agent, session, "My name is Ada and I like graph theory.")
    await ask(agent, session, "Please remember that.")
    SESSION_FILE.parent.mkdir(parents=True, exist_ok=True)
    SESSION_FILE.write_text(json.dumps(session.to_dict()), encoding="utf-8")
    print(f"Saved the session to {SESSION_FILE}; run again with --resume.")


async def resumed_run() -> int:
    if not SESSION_FILE.is_file():
        print(f"No saved session at {SESSION_FILE}; run this script without --resume first.", file=sys.stderr)
        return 1
    session = AgentSession.from_dict(json.loads(SESSION_FILE.read_text(encoding="utf-8")))
    client = RecallChatClient()
    agent = make_agent(client)
    print(f"Process 2: resumed session {session.session_id}")
    await ask(agent, session, "What is my name?")
    seen = client.calls[-1][:-1]
    print(f"The model was shown {len(seen)} earlier messages, the first being: {seen[0] if seen else None!r}")
    if not seen or "Ada" not in seen[0]:
        print("The earlier turns did not reach the model.", file=sys.stderr)
        return 1
    print(f"Transcript: af-history show {session.session_id}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resume", action="store_true", help="continue the session saved by the first run")
    if parser.parse_args().resume:
        return asyncio.run(resumed_run())
    asyncio.run(first_run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
