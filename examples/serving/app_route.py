"""An app-owned route (agent-framework-hosting's ``AgentState``): the app binds the caller itself.

    uvicorn examples.serving.app_route:app --port 8089   # or: python examples/serving/app_route.py

``POST /chat`` with ``{"session_id": "...", "text": "..."}`` and the caller in the ``x-user`` header.
The route owns the request, so it binds the user with ``bind_request_context`` around the run; the
history lives in the store the selector picks (``AF_HISTORY_STORE`` or ``./.af-history/history.db``).
"""

from __future__ import annotations

from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentState
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_framework_history import HistoryStoreProvider, bind_request_context
from agent_framework_history.testing import RecallChatClient

state = AgentState(Agent(client=RecallChatClient(), context_providers=[HistoryStoreProvider()]))


async def chat(request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    user = request.headers.get("x-user") or None  # no header: the anonymous partition
    session_id = str(body["session_id"])
    with bind_request_context(user=user):
        session = await state.get_or_create_session(session_id)
        response = await state.target.run(str(body["text"]), session=session)
        await state.set_session(session_id, session)  # keeps the chain head in the session
    return JSONResponse({"text": response.text})


app = Starlette(routes=[Route("/chat", chat, methods=["POST"])])

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8089)
