"""Differential tests for response stores: the same operations against the SDK's own store, the same answers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

__all__ = [
    "SCENARIOS",
    "Op",
    "ResponseStoreConformance",
    "SessionRecordsConformance",
    "host_turn",
    "operations",
    "response_envelope",
    "response_message",
]

USERS: tuple[str | None, ...] = (None, "", "alice", "bob")
LAST: str = "@last"
"""An ``Op.other`` that stands for the response this user created last (a host continuing its chain)."""
RESPONSES = tuple(f"caresp_{n:02d}" for n in range(6))
CONVERSATIONS = ("conv_a", "conv_b")


def response_message(item_id: str, text: str, role: str = "user") -> dict[str, Any]:
    """A ``message`` item as a host stores it (``input_text`` from users, ``output_text`` from the assistant)."""
    part = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "id": item_id, "role": role, "content": [{"type": part, "text": text}]}


def response_envelope(response_id: str, output: list[dict[str, Any]], previous: str | None = None) -> dict[str, Any]:
    """A completed response envelope; ``previous`` names ``previous_response_id`` (the SDK's host leaves it out)."""
    value: dict[str, Any] = {"id": response_id, "object": "response", "status": "completed", "output": output}
    if previous is not None:
        value["previous_response_id"] = previous
    return value


async def host_turn(store: Any, context: Any, n: int, previous: str | None, *, name_previous: bool = False) -> str:
    """What ``ResponsesHostServer`` does per turn: read the chain's ids, create the response, complete it.

    Item ids are ``msg_<n>u`` (the input) and ``msg_<n>a`` (the output); the response id is
    ``caresp_<n:04d>``. The SDK's host leaves ``previous_response_id`` out of the envelope it stores
    (``name_previous`` puts it in, as other writers may): the history it passes tells which
    response it continues.
    """
    response_id = f"caresp_{n:04d}"
    history = await store.get_history_item_ids(previous, None, -1, context=context)
    named = previous if name_previous else None
    started = response_envelope(response_id, [], named)
    await store.create_response(started, [response_message(f"msg_{n}u", f"question {n}")], history, context=context)
    done = response_envelope(response_id, [response_message(f"msg_{n}a", f"answer {n}", "assistant")], named)
    await store.update_response(done, context=context)
    return response_id


@dataclass(frozen=True)
class Op:
    """One call: ``kind`` and its arguments (item ids are drawn fresh when the call runs)."""

    kind: str
    user: str | None
    response: str
    other: str | None = None
    conversation: str | None = None
    count: int = 0
    limit: int = 20
    flag: bool = False
    cursor: int | None = None
    named: bool = False
    """Whether a created envelope names ``previous_response_id`` (the SDK's host leaves it out)."""


def operations() -> st.SearchStrategy[list[Op]]:
    """Sequences of calls a host makes, with the odd mistake (unknown ids, other users, deletes)."""
    user = st.sampled_from(("alice", "alice", "alice", *USERS))
    response = st.sampled_from(RESPONSES)
    maybe_response = st.none() | response | st.just(LAST) | st.just(LAST)
    conversation = st.none() | st.sampled_from(CONVERSATIONS)
    create = st.builds(
        Op,
        kind=st.just("create"),
        user=user,
        response=response,
        other=maybe_response,
        conversation=conversation,
        count=st.integers(0, 3),
        limit=st.sampled_from([-1, -1, 2]),
        flag=st.booleans(),
        named=st.booleans(),
    )
    update = st.builds(Op, kind=st.just("update"), user=user, response=response, count=st.integers(0, 3))
    simple = st.builds(Op, kind=st.sampled_from(["get", "delete"]), user=user, response=response)
    pages = st.builds(
        Op,
        kind=st.just("input_items"),
        user=user,
        response=response,
        limit=st.sampled_from([0, 1, 3, 20, 500]),
        flag=st.booleans(),
        cursor=st.none() | st.integers(-3, 3),
    )
    history = st.builds(
        Op,
        kind=st.just("history"),
        user=user,
        response=response,
        other=maybe_response,
        conversation=conversation,
        limit=st.sampled_from([-1, 0, 1, 3, 100]),
    )
    items = st.builds(Op, kind=st.just("items"), user=user, response=response, count=st.integers(1, 8))
    return st.lists(create | create | update | simple | pages | history | items, min_size=1, max_size=30)


def _context(user: str | None) -> Any:
    from azure.ai.agentserver.responses import PlatformContext

    return PlatformContext(user_id_key=user, call_id="call-test")


async def _outcome(call: Callable[[], Awaitable[Any]]) -> tuple[str, Any]:
    from azure.ai.agentserver.responses.store import ResponseAlreadyExistsError

    try:
        return ("ok", await call())
    except ResponseAlreadyExistsError:
        return ("exists", None)
    except KeyError:
        return ("KeyError", None)
    except ValueError:
        return ("ValueError", None)


class _Driver:
    """Runs one sequence against two providers, drawing the same fresh item ids for both."""

    def __init__(self) -> None:
        self.counter = 0
        self.known_items: list[str] = []
        self.outputs: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
        self.last: dict[str | None, str] = {}

    def resolve(self, op: Op) -> Op:
        """``op`` with :data:`LAST` replaced by the user's latest created response (or none)."""
        if op.other != LAST:
            return op
        return dataclasses.replace(op, other=self.last.get(op.user))

    def fresh_item(self, role: str) -> dict[str, Any]:
        self.counter += 1
        item_id = f"msg_{self.counter:04d}"
        self.known_items.append(item_id)
        part = "output_text" if role == "assistant" else "input_text"
        return {
            "type": "message",
            "id": item_id,
            "role": role,
            "status": "completed",
            "content": [{"type": part, "text": f"{role} {self.counter}"}],
        }

    def envelope(self, op: Op, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        envelope: dict[str, Any] = {
            "id": op.response,
            "object": "response",
            "status": "completed" if outputs else "in_progress",
            "created_at": 1_700_000_000,
            "output": outputs,
            "background": False,
            "parallel_tool_calls": False,
            "instructions": "",
        }
        if op.other is not None and op.named:
            envelope["previous_response_id"] = op.other
        if op.conversation is not None:
            envelope["conversation"] = {"id": op.conversation}
        return envelope

    async def run(self, op: Op, reference: Any, store: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
        op = self.resolve(op)
        context = _context(op.user)
        if op.kind == "create":
            history = await reference.get_history_item_ids(op.other, op.conversation, op.limit, context=context)
            inputs = [self.fresh_item("user") for _ in range(op.count)]
            outputs = [self.fresh_item("assistant") for _ in range(op.count if op.flag else 0)]
            self.outputs[(op.user, op.response)] = outputs
            envelope = self.envelope(op, outputs)

            def create(provider: Any) -> Callable[[], Awaitable[Any]]:
                return lambda: provider.create_response(envelope, inputs, history, context=context)

            outcomes = await _outcome(create(reference)), await _outcome(create(store))
            if outcomes[0][0] == "ok":
                self.last[op.user] = op.response
            if outcomes[0] != outcomes[1]:
                return outcomes
            # Then what the new response continues from, as a host's next turn and a listing would read it.
            chain = (
                await _outcome(lambda: reference.get_history_item_ids(op.response, None, -1, context=context)),
                await _outcome(lambda: store.get_history_item_ids(op.response, None, -1, context=context)),
            )
            if chain[0] != chain[1]:
                return chain
            return (
                await _outcome(lambda: reference.get_input_items(op.response, 100, True, context=context)),
                await _outcome(lambda: store.get_input_items(op.response, 100, True, context=context)),
            )
        if op.kind == "update":
            outputs = self.outputs.get((op.user, op.response), []) + [
                self.fresh_item("assistant") for _ in range(op.count)
            ]
            self.outputs[(op.user, op.response)] = outputs
            envelope = self.envelope(op, outputs)
            return (
                await _outcome(lambda: reference.update_response(envelope, context=context)),
                await _outcome(lambda: store.update_response(envelope, context=context)),
            )
        if op.kind == "get":
            return (
                await _outcome(lambda: reference.get_response(op.response, context=context)),
                await _outcome(lambda: store.get_response(op.response, context=context)),
            )
        if op.kind == "delete":
            return (
                await _outcome(lambda: reference.delete_response(op.response, context=context)),
                await _outcome(lambda: store.delete_response(op.response, context=context)),
            )
        if op.kind == "input_items":
            cursor = None
            if op.cursor is not None and self.known_items:
                cursor = self.known_items[op.cursor % len(self.known_items)]
            after, before = (cursor, None) if op.flag else (None, cursor)

            def page(provider: Any) -> Callable[[], Awaitable[Any]]:
                return lambda: provider.get_input_items(op.response, op.limit, op.flag, after, before, context=context)

            return await _outcome(page(reference)), await _outcome(page(store))
        if op.kind == "history":

            def history_ids(provider: Any) -> Callable[[], Awaitable[Any]]:
                return lambda: provider.get_history_item_ids(op.other, op.conversation, op.limit, context=context)

            return await _outcome(history_ids(reference)), await _outcome(history_ids(store))
        ids = (self.known_items[-op.count :] if self.known_items else []) + ["msg_missing"]

        def items(provider: Any) -> Callable[[], Awaitable[Any]]:
            return lambda: provider.get_items(ids, context=context)

        return await _outcome(items(reference)), await _outcome(items(store))


SCENARIOS: dict[str, list[Op]] = {
    "a chain, then its ids and inputs at every step": [
        Op("create", "alice", "caresp_00", None, None, 1, -1, True),
        Op("create", "alice", "caresp_01", "caresp_00", None, 1, -1, True),
        Op("create", "alice", "caresp_02", "caresp_01", None, 2, -1, False),
        Op("update", "alice", "caresp_02", count=2),
        Op("history", "alice", "caresp_00", "caresp_02", None, limit=3),
        Op("input_items", "alice", "caresp_02", limit=2, flag=False, cursor=-1),
    ],
    "a conversation and a previous response together": [
        Op("create", "alice", "caresp_00", None, "conv_a", 1, -1, True),
        Op("create", "alice", "caresp_01", None, "conv_a", 1, -1, True),
        Op("create", "alice", "caresp_02", "caresp_00", "conv_a", 1, -1, True),
        Op("history", "alice", "caresp_00", "caresp_02", None, limit=-1),
        Op("history", "alice", "caresp_00", None, "conv_a", limit=-1),
    ],
    "a fetch limit: the history is the chain's end": [
        Op("create", "alice", "caresp_00", None, None, 3, -1, True),
        Op("create", "alice", "caresp_01", "caresp_00", None, 1, 2, True),
        Op("create", "alice", "caresp_02", "caresp_01", None, 1, -1, True),
        Op("history", "alice", "caresp_00", "caresp_02", None, limit=-1),
    ],
    "the previous response changes or goes after it was continued": [
        Op("create", "alice", "caresp_00", None, None, 1, -1, True),
        Op("create", "alice", "caresp_01", "caresp_00", None, 1, -1, True),
        Op("update", "alice", "caresp_00", count=1),
        Op("history", "alice", "caresp_00", "caresp_01", None, limit=-1),
        Op("delete", "alice", "caresp_00"),
        Op("history", "alice", "caresp_00", "caresp_01", None, limit=-1),
        Op("create", "alice", "caresp_00", None, None, 1, -1, True),
        Op("history", "alice", "caresp_00", "caresp_01", None, limit=-1),
    ],
    "users and the anonymous caller never share": [
        Op("create", "alice", "caresp_00", None, "conv_a", 1, -1, True),
        Op("create", None, "caresp_00", None, "conv_a", 1, -1, True),
        Op("create", "", "caresp_00", None, "conv_a", 1, -1, True),
        Op("create", "bob", "caresp_01", "caresp_00", "conv_a", 1, -1, True),
        Op("items", "bob", "caresp_00", count=8),
        Op("history", None, "caresp_00", "caresp_00", "conv_a", limit=-1),
        Op("get", "bob", "caresp_00"),
        Op("delete", "bob", "caresp_00"),
    ],
}


class ResponseStoreConformance:
    """Mixin: the subclass provides ``response_store_factory``, an async context manager factory.

    ``response_store_factory()`` must yield a fresh, empty response store each time it is entered
    (the property test enters it once per generated sequence).
    """

    @pytest.fixture
    def response_store_factory(self) -> Callable[[], Any]:
        raise NotImplementedError("Override 'response_store_factory' to return a callable giving a fresh store.")

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,  # one method, run by each backend's subclass
        ],
    )
    @given(ops=operations())
    def test_same_answers_as_the_sdks_in_memory_store(
        self, response_store_factory: Callable[[], Any], ops: list[Op]
    ) -> None:
        from azure.ai.agentserver.responses import InMemoryResponseProvider

        async def scenario() -> None:
            reference = InMemoryResponseProvider()
            driver = _Driver()
            factory: Callable[[], AbstractAsyncContextManager[Any]] = response_store_factory
            async with factory() as store:
                for step, op in enumerate(ops):
                    expected, actual = await driver.run(op, reference, store)
                    assert actual == expected, f"step {step}: {op}\nSDK store: {expected}\nthis store: {actual}"

        asyncio.run(scenario())

    @pytest.mark.parametrize("name", list(SCENARIOS))
    def test_scenario_gives_the_sdks_answers(self, response_store_factory: Callable[[], Any], name: str) -> None:
        from azure.ai.agentserver.responses import InMemoryResponseProvider

        async def scenario() -> None:
            reference = InMemoryResponseProvider()
            driver = _Driver()
            async with response_store_factory() as store:
                for step, op in enumerate(SCENARIOS[name]):
                    expected, actual = await driver.run(op, reference, store)
                    assert actual == expected, f"step {step}: {op}\nSDK store: {expected}\nthis store: {actual}"

        asyncio.run(scenario())


class SessionRecordsConformance:
    """Mixin: the subclass provides a ``session_records`` fixture returning fresh, empty records."""

    @pytest.fixture
    def session_records(self) -> Any:
        raise NotImplementedError("Override 'session_records' to return fresh, empty SessionRecords.")

    @staticmethod
    def _session(session_id: str = "s1", text: str = "hello") -> Any:
        from agent_framework import AgentSession

        session = AgentSession(session_id=session_id)
        session.state["note"] = {"text": text, "numbers": [1, 2.5, None, True]}
        return session

    @pytest.mark.asyncio
    async def test_set_then_get_returns_an_equal_session(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore

        store = DurableSessionStore(session_records, scope="u:alice")
        assert await store.get("r1") is None
        await store.set("r1", self._session())
        loaded = await DurableSessionStore(session_records, scope="u:alice").get("r1")
        assert loaded is not None
        assert loaded.to_dict() == self._session().to_dict()

    @pytest.mark.asyncio
    async def test_scopes_do_not_see_each_other(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore

        await DurableSessionStore(session_records, scope="u:alice").set("r1", self._session(text="alice"))
        await DurableSessionStore(session_records, scope="-").set("r1", self._session(text="anonymous"))
        assert await DurableSessionStore(session_records, scope="u:bob").get("r1") is None
        anonymous = await DurableSessionStore(session_records, scope="-").get("r1")
        assert anonymous is not None and anonymous.state["note"]["text"] == "anonymous"
        alice = await DurableSessionStore(session_records, scope="u:alice").get("r1")
        assert alice is not None and alice.state["note"]["text"] == "alice"

    @pytest.mark.asyncio
    async def test_a_write_based_on_a_stale_read_is_refused(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore, SessionConflictError

        await DurableSessionStore(session_records).set("c1", self._session(text="v1"))
        first, second = DurableSessionStore(session_records), DurableSessionStore(session_records)
        mine, theirs = await first.get("c1"), await second.get("c1")
        assert mine is not None and theirs is not None
        mine.state["note"]["text"] = "mine"
        await first.set("c1", mine)
        theirs.state["note"]["text"] = "theirs"
        with pytest.raises(SessionConflictError, match="c1"):
            await second.set("c1", theirs)
        kept = await DurableSessionStore(session_records).get("c1")
        assert kept is not None and kept.state["note"]["text"] == "mine"
        again = await second.get("c1")  # reload, then the write goes through
        assert again is not None
        await second.set("c1", again)

    @pytest.mark.asyncio
    async def test_creating_what_another_request_just_created_is_refused(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore, SessionConflictError

        first, second = DurableSessionStore(session_records), DurableSessionStore(session_records)
        assert await first.get("new") is None
        assert await second.get("new") is None
        await first.set("new", self._session(text="first"))
        with pytest.raises(SessionConflictError):
            await second.set("new", self._session(text="second"))

    @pytest.mark.asyncio
    async def test_one_store_writes_the_same_session_repeatedly(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore

        store = DurableSessionStore(session_records)
        session = self._session()
        for n in range(3):
            session.state["note"]["text"] = f"v{n}"
            await store.set("s", session)
        loaded = await store.get("s")
        assert loaded is not None and loaded.state["note"]["text"] == "v2"

    @pytest.mark.asyncio
    async def test_delete_removes_and_tolerates_absent(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore

        store = DurableSessionStore(session_records)
        await store.set("s", self._session())
        await store.delete("s")
        await store.delete("s")
        assert await store.get("s") is None

    @pytest.mark.asyncio
    async def test_concurrent_conditional_writes_let_exactly_one_win(self, session_records: Any) -> None:
        from .._session_store import DurableSessionStore, SessionConflictError

        await DurableSessionStore(session_records).set("hot", self._session(text="v0"))
        stores = [DurableSessionStore(session_records) for _ in range(8)]
        sessions = [await store.get("hot") for store in stores]

        async def write(store: Any, session: Any, n: int) -> bool:
            session.state["note"]["text"] = f"writer {n}"
            try:
                await store.set("hot", session)
            except SessionConflictError:
                return False
            return True

        results = await asyncio.gather(*(write(s, x, n) for n, (s, x) in enumerate(zip(stores, sessions, strict=True))))
        assert results.count(True) == 1
        winner = results.index(True)
        kept = await DurableSessionStore(session_records).get("hot")
        assert kept is not None and kept.state["note"]["text"] == f"writer {winner}"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("bad", ["", None, 7])
    async def test_bad_session_ids_are_refused(self, session_records: Any, bad: Any) -> None:
        from .._session_store import DurableSessionStore

        with pytest.raises(ValueError, match="session_id"):
            await DurableSessionStore(session_records).get(bad)
