"""Serve an agent with ResponsesHostServer, its history kept by agent-framework-history.

    python examples/serving/server.py --port 8088 --store sqlite:///./.af-history/served.db

Then talk to it with the official ``openai`` client (see ``client.py`` beside this file). The
agent's model is ``RecallChatClient``, an offline client that answers with how many earlier
messages it was shown, so the example runs without any model service.

``history_source="agent"``: the host sends only the request's input to the agent and persists
the agent's session per response; ``HistoryStoreProvider`` supplies the history, keeps the
conversation's chain head in that session, and takes the caller's user (``x-agent-user-id``)
and call id from the host's request context. A request with ``previous_response_id=X`` continues
exactly the chain that ended at response X: forks and retries see the right history, and one
user's response id never shows another user's history.
"""

from __future__ import annotations

import argparse

from agent_framework import Agent
from agent_framework_foundry_hosting import ResponsesHostServer

from agent_framework_history import HistoryStoreProvider
from agent_framework_history.testing import RecallChatClient


def build_server(store: str | None) -> ResponsesHostServer:
    """The host: one agent, its history in ``store`` (``None``: the selector's choice)."""
    agent = Agent(client=RecallChatClient(), name="recall", context_providers=[HistoryStoreProvider(store)])
    return ResponsesHostServer(agent, history_source="agent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--store", default=None, help="a store URL (default: AF_HISTORY_STORE, then the selector)")
    args = parser.parse_args()
    build_server(args.store).run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
