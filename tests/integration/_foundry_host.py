"""A ResponsesHostServer whose agent keeps its history in (fake) Foundry storage; run by test_real_host_foundry.

    python tests/integration/_foundry_host.py --endpoint https://127.0.0.1:PORT/api/projects/p --mode hosted --port N

``--mode hosted``: as in a Foundry container (the test sets ``FOUNDRY_HOSTING_ENVIRONMENT`` and the
other platform variables): the host's response store is a ``FoundryStorageProvider`` for the
endpoint (what the host uses by default when hosted), so the host stores each turn itself.
``--mode local``: the host keeps its responses in the SDK's ``InMemoryResponseProvider`` and its
agent sessions in its default local store; only the history store writes to Foundry storage.

In both, the agent's history comes from ``HistoryStoreProvider`` over ``foundry://<endpoint>``
(``history_source="agent"``). The child trusts the fake's CA through ``SSL_CERT_FILE``, which the
test sets in its environment, so it is in force before aiohttp is first imported. Hosted, agent
sessions are kept in memory, per user (the host's default session store in a container is a
Foundry state store, which the fake does not serve).
"""

from __future__ import annotations

import argparse
from typing import Any

from agent_framework import Agent, AgentSession, SessionStore
from agent_framework_foundry_hosting import ResponsesHostServer, StoreProvider
from azure.ai.agentserver.core import AgentConfig, FoundryAgentRequestContext
from azure.ai.agentserver.responses import FoundryStorageProvider, FoundryStorageSettings, InMemoryResponseProvider

from agent_framework_history import HistoryStoreProvider, bind_host_response
from agent_framework_history.testing import RecallChatClient
from agent_framework_history_foundry import open_foundry_store
from agent_framework_history_foundry.testing import StaticTokenCredential


class _UserSessions(SessionStore):
    """Agent sessions of one user, as serialized dicts (so a fork restores the session as it was)."""

    def __init__(self, sessions: dict[str, dict[str, Any]]) -> None:
        self._sessions = sessions

    async def get(self, session_id: str) -> AgentSession | None:
        stored = self._sessions.get(session_id)
        return AgentSession.from_dict(stored) if stored is not None else None

    async def set(self, session_id: str, session: AgentSession) -> None:
        self._sessions[session_id] = session.to_dict()

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


class InMemoryUserSessions(StoreProvider[SessionStore]):
    """One session store per user id: another user's response id restores no session."""

    def __init__(self) -> None:
        self._by_user: dict[str | None, dict[str, dict[str, Any]]] = {}

    def get_store(self, *, config: AgentConfig, platform_context: FoundryAgentRequestContext) -> SessionStore:
        return _UserSessions(self._by_user.setdefault(platform_context.user_id, {}))


def build_server(endpoint: str, mode: str) -> ResponsesHostServer:
    history = open_foundry_store("foundry://" + endpoint.split("://", 1)[1], credential=StaticTokenCredential("store"))
    agent = Agent(client=RecallChatClient(), name="recall", context_providers=[HistoryStoreProvider(history)])
    response_store: Any
    if mode == "hosted":
        response_store = FoundryStorageProvider(
            StaticTokenCredential("host"), settings=FoundryStorageSettings.from_endpoint(endpoint)
        )
    else:
        response_store = InMemoryResponseProvider()
    print(f"history store host_stores={history.host_stores}", flush=True)
    if mode == "hosted":
        return ResponsesHostServer(
            agent,
            response_store=response_store,
            agent_session_store_provider=InMemoryUserSessions(),
            history_source="agent",
            prepare_options=bind_host_response,  # the host's response id, for streamed runs too
        )
    # Locally the host's own session store (files under AGENTSERVER_STATE_ROOT) restores a session for
    # any caller holding its response id: isolation is then the history store's to keep.
    return ResponsesHostServer(agent, response_store=response_store, history_source="agent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the fake's project endpoint (https://127.0.0.1:PORT/...)")
    parser.add_argument("--mode", choices=["hosted", "local"], required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    build_server(args.endpoint, args.mode).run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
