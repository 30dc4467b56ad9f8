"""A loopback HTTPS fake of the Foundry storage API, with a request log and injectable faults.

It implements what the SDK's ``FoundryStorageProvider`` calls, with the service's history
semantics: ``history/item_ids?previous_response_id=X`` answers X's own ``history_item_ids``
followed by its input and output item ids; an unknown response is a 404; a duplicate create is
a 409 ``conflict``; ids that are not ``IdGenerator`` ids are refused with a 500, as the service does.
An update (``POST responses/{id}``, what a host sends when a response it created at the start
completes) replaces the response and records its output items.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from azure.ai.agentserver.responses._id_generator import IdGenerator

if TYPE_CHECKING:
    from aiohttp import web

    from ._tls import LoopbackTls

__all__ = ["Fault", "FakeFoundryStorage", "Operation", "RecordedRequest"]

Operation = Literal["create", "update", "get_response", "history", "items"]
PROJECT_PATH: Final = "/api/projects/test-project"
STORAGE_PATH: Final = PROJECT_PATH + "/storage/"


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Fault:
    """What the fake does instead of (or after) answering the next ``times`` requests of ``operation``.

    ``status``: answer with this HTTP status, ``headers`` and JSON ``body`` (default: a Foundry error
    envelope), or ``raw`` text instead of JSON. ``malformed``: answer 200 with a body that is not JSON.
    ``drop``: close the connection without an answer. ``after_applying``: do the operation first, then
    fail (the write landed but the client never heard).
    """

    operation: Operation
    status: int | None = None
    headers: dict[str, str] = field(default_factory=lambda: {})
    body: Any = None
    raw: str | None = None
    malformed: bool = False
    drop: bool = False
    after_applying: bool = False
    times: int = 1


@dataclass
class _Response:
    response: dict[str, Any]
    history_ids: list[str]
    input_ids: list[str]
    output_ids: list[str]


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []  # type: ignore[redundant-cast, unused-ignore]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class FakeFoundryStorage:
    """Serve the storage API on ``https://127.0.0.1:<port>``; ``endpoint`` is the project endpoint URL."""

    def __init__(self, tls: LoopbackTls) -> None:
        self.tls = tls
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.responses: dict[str, _Response] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}{PROJECT_PATH}"

    @property
    def host_url(self) -> str:
        """The endpoint as a ``foundry://`` URL."""
        return f"foundry://127.0.0.1:{self.port}{PROJECT_PATH}"

    async def start(self) -> FakeFoundryStorage:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", STORAGE_PATH + "{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls.server_context())
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeFoundryStorage:
        return await self.start()

    async def __aexit__(self, *args: object) -> None:
        await self.stop()

    # -- inspection ----------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def counts(self) -> Counter[str]:
        """Requests received per operation."""
        return Counter(r.operation for r in self.requests)

    def of(self, operation: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.operation == operation]

    def chain_ids(self, response_id: str) -> list[str]:
        stored = self.responses[response_id]
        return [*stored.history_ids, *stored.input_ids, *stored.output_ids]

    # -- serving -------------------------------------------------------------------------

    @staticmethod
    def _operation(method: str, tail: str) -> str:
        if method == "POST" and tail == "responses":
            return "create"
        if method == "GET" and tail == "history/item_ids":
            return "history"
        if method == "POST" and tail == "items/batch/retrieve":
            return "items"
        if method == "GET" and tail.startswith("responses/") and tail.count("/") == 1:
            return "get_response"
        if method == "POST" and tail.startswith("responses/") and tail.count("/") == 1:
            return "update"
        return "unknown"

    def _take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.operation == operation and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        tail = request.match_info["tail"]
        operation = self._operation(request.method, tail)
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self.requests.append(
            RecordedRequest(operation, request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        fault = self._take_fault(operation)
        if fault is not None and not fault.after_applying:
            return self._fail(request, fault)
        if request.query.get("api-version") != "v1":
            return web.json_response(_error("invalid_request", "api-version must be v1"), status=400)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response(_error("unauthorized", "missing bearer token"), status=401)
        answer = self._answer(operation, tail, request.query, body)
        if fault is not None:
            return self._fail(request, fault)
        return answer

    def _fail(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        from aiohttp import web

        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        if fault.malformed:
            return web.Response(status=200, text='{"not json', content_type="application/json")
        status = fault.status or 500
        if fault.raw is not None:
            return web.Response(status=status, text=fault.raw, headers=fault.headers)
        body = fault.body if fault.body is not None else _error("server_error", f"injected HTTP {status}")
        return web.json_response(body, status=status, headers=fault.headers)

    def _answer(self, operation: str, tail: str, query: Any, body: Any) -> web.StreamResponse:
        from aiohttp import web

        if operation == "create":
            return self._create(body)
        if operation == "update":
            return self._update(tail.split("/", 1)[1], body)
        if operation == "history":
            previous = query.get("previous_response_id")
            limit = int(query.get("limit", "-1"))
            if previous is None:
                return web.json_response([])
            if previous not in self.responses:
                return web.json_response(_error("not_found", f"Response {previous} not found"), status=404)
            ids = self.chain_ids(previous)
            return web.json_response(ids if limit < 0 else ids[len(ids) - limit :] if limit else [])
        if operation == "items":
            request_body = _object(body)
            ids = [str(i) for i in _list(request_body.get("item_ids"))]
            return web.json_response([self.items.get(i) for i in ids])
        if operation == "get_response":
            response_id = tail.split("/", 1)[1]
            stored = self.responses.get(response_id)
            if stored is None:
                return web.json_response(_error("not_found", f"Response {response_id} not found"), status=404)
            return web.json_response(stored.response)
        return web.json_response(_error("not_found", f"No route {tail}"), status=404)

    def _update(self, response_id: str, body: Any) -> web.StreamResponse:
        from aiohttp import web

        stored = self.responses.get(response_id)
        if stored is None:
            return web.json_response(_error("not_found", f"Response {response_id} not found"), status=404)
        response = _object(body)
        if response.get("id") != response_id:
            return web.json_response(_error("invalid_request", "the body's id is not the path's"), status=400)
        output_items = [_object(i) for i in _list(response.get("output"))]
        for item in output_items:
            ok, reason = IdGenerator.is_valid(item.get("id"))
            if not ok:
                return web.json_response(_error("server_error", f"bad item id: {reason}"), status=500)
        for item in output_items:
            self.items[item["id"]] = item
        stored.response = response
        stored.output_ids = [item["id"] for item in output_items]
        return web.json_response(response, status=200)

    def _create(self, body: Any) -> web.StreamResponse:
        from aiohttp import web

        request_body = _object(body)
        response = _object(request_body.get("response"))
        if not response:
            return web.json_response(_error("invalid_request", "body needs a response object"), status=400)
        response_id = response.get("id")
        valid, reason = IdGenerator.is_valid(response_id, ["caresp"])
        if not valid:
            return web.json_response(_error("server_error", f"bad response id: {reason}"), status=500)
        if response_id in self.responses:
            return web.json_response(_error("conflict", f"Response {response_id} already exists"), status=409)
        input_items = [_object(i) for i in _list(request_body.get("input_items"))]
        output_items = [_object(i) for i in _list(response.get("output"))]
        for item in (*input_items, *output_items):
            ok, reason = IdGenerator.is_valid(item.get("id"))
            if not ok:
                return web.json_response(_error("server_error", f"bad item id: {reason}"), status=500)
        history = [str(i) for i in _list(request_body.get("history_item_ids"))]
        for item in (*input_items, *output_items):
            self.items[item["id"]] = item
        self.responses[str(response_id)] = _Response(
            response=response,
            history_ids=history,
            input_ids=[item["id"] for item in input_items],
            output_ids=[item["id"] for item in output_items],
        )
        return web.json_response(response, status=200)
