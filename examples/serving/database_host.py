"""Give ResponsesHostServer a database: its Responses transcript and agent sessions in one store.

    python examples/serving/database_host.py --port 8090 --store sqlite:///./.af-history/host.db
    python examples/serving/database_host.py --port 8091 --store sqlite:///./.af-history/host.db  # a replica

The host keeps its default ``history_source="agent_server"``: it replays the stored transcript to the
model, so the agent needs no history provider. Both stores come from the same URL (sqlite for one
machine, ``postgresql://…`` for replicas on several): any process serving that URL continues any
chain, and ``af-history sessions / show / export`` see what the host stored, per user.
"""

from __future__ import annotations

import argparse

from agent_framework import Agent
from agent_framework_foundry_hosting import ResponsesHostServer

from agent_framework_history import open_response_store, open_session_store
from agent_framework_history.testing import RecallChatClient


def build_server(store: str | None) -> ResponsesHostServer:
    """The host: an offline agent whose transcript and sessions live in ``store`` (``None``: the selector's)."""
    agent = Agent(client=RecallChatClient(), name="recall")
    return ResponsesHostServer(
        agent,
        response_store=open_response_store(store),
        agent_session_store_provider=open_session_store(store),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--store", default=None, help="a store URL (default: AF_HISTORY_STORE, then the selector)")
    args = parser.parse_args()
    build_server(args.store).run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
