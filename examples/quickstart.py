"""Quick start: an agent that keeps its conversation history through agent-framework-history.

Runs offline with a deterministic chat client that reports what history it was shown.
"""

from __future__ import annotations

import asyncio

from agent_framework import Agent

from agent_framework_history import HistoryStoreProvider
from agent_framework_history.testing import RecallChatClient


async def main() -> None:
    agent = Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider("memory://quickstart")])
    session = agent.create_session()
    for question in ("My name is Ada.", "What did I just tell you?"):
        reply = await agent.run(question, session=session)
        print(f"user: {question}\nagent: {reply.text}")


if __name__ == "__main__":
    asyncio.run(main())
