"""Regression tests for defects found by trying to break the store: each names what went wrong before."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from agent_framework_history import CorruptDataError, SessionKey, StoreUnavailableError, bind_request_context
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_foundry import (
    PARTITION_KEY,
    FoundryHistoryStore,
    FoundryUnavailableError,
    open_foundry_store,
)
from agent_framework_history_foundry.testing import FakeFoundryStorage, Fault, StaticTokenCredential

from .conftest import TLS


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item.get("content", [])]


# -- 1. a failed turn of one chat must never be stored as another chat's turn ------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("chat_a", "chat_b"),
    [
        (SessionKey("chat-a", user="alice"), SessionKey("chat-b", user="alice")),
        (SessionKey("s", user="alice", chat="a"), SessionKey("s", user="alice", chat="b")),
    ],
)
async def test_a_turn_lost_in_transit_is_not_reused_by_another_session(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, chat_a: SessionKey, chat_b: SessionKey
) -> None:
    fake.inject(Fault("create", drop=True))  # the server drops the connection: chat A's turn is not stored
    with pytest.raises((ServiceRequestError, ServiceResponseError)) as caught:
        await wire_store.append(chat_a, [make_item(1, "SECRET of chat A")])
    # The library's transient error, naming what could not be reached, and still the azure-core error it was.
    assert isinstance(caught.value, FoundryUnavailableError) and isinstance(caught.value, StoreUnavailableError)
    assert any("could not be reached for POST" in note for note in caught.value.__notes__)
    assert isinstance(caught.value.__cause__, (ServiceRequestError, ServiceResponseError))
    result = await wire_store.append(chat_b, [make_item(1, "chat B's own message")])  # same item id msg_1
    assert result.stored == 1
    assert texts(await wire_store.load(chat_b, head=result.head)) == ["chat B's own message"]
    [create] = [r for r in fake.of("create")[1:]]
    assert "SECRET" not in str(create.body)
    # chat A's retry still resends its own turn
    retried = await wire_store.append(chat_a, [make_item(1, "SECRET of chat A")])
    assert texts(await wire_store.load(chat_a, head=retried.head)) == ["SECRET of chat A"]


@pytest.mark.asyncio
async def test_a_retry_with_the_same_ids_but_new_content_stores_the_new_content(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    key = SessionKey("s", user="alice")
    fake.inject(Fault("create", drop=True))
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        await wire_store.append(key, [make_item(1, "first draft")])
    result = await wire_store.append(key, [make_item(1, "second draft")])
    assert result.stored == 1
    assert texts(await wire_store.load(key, head=result.head)) == ["second draft"]
    first, second = fake.of("create")
    assert first.body["response"]["id"] != second.body["response"]["id"]  # not the pending turn's response


@pytest.mark.asyncio
async def test_a_retry_of_the_same_session_and_items_resends_the_same_response(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    key = SessionKey("s", user="alice")
    fake.inject(Fault("create", drop=True, after_applying=True))  # it landed, but the answer was lost
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        await wire_store.append(key, make_turn(0))
    result = await wire_store.append(key, make_turn(0))
    assert result.stored == 2
    first, second = fake.of("create")
    assert first.body == second.body
    assert len(fake.responses) == 1


# -- 2. two sessions saved inside one bound request stay apart ---------------------------------


@pytest.mark.asyncio
async def test_two_sessions_in_one_bound_request_do_not_mix(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    from azure.ai.agentserver.responses._id_generator import IdGenerator

    planner = SessionKey("planner", user="u", chat="c1")
    researcher = SessionKey("researcher", user="u", chat="c2")
    bound = IdGenerator.new_response_id()
    with bind_request_context(user="u", response_id=bound, call_id="call-1"):
        first = await wire_store.append(planner, [make_item("p", "planner private note")])
        second = await wire_store.append(researcher, [make_item("r", "researcher turn")])
        third = await wire_store.append(planner, [make_item("p2", "planner again")])
        assert texts(await wire_store.load(researcher)) == ["researcher turn"]
        assert texts(await wire_store.load(planner)) == ["planner private note", "planner again"]
    assert first.head == bound  # the bound id names the first session's response only
    assert second.head not in (None, bound) and third.head not in (None, bound, second.head)
    assert texts(await wire_store.load(researcher, head=second.head)) == ["researcher turn"]
    researcher_create = fake.of("create")[1].body
    assert researcher_create["history_item_ids"] == []
    assert "previous_response_id" not in researcher_create["response"]


# -- 3. an answer that is not what the operation returns is never taken for success ------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        Fault("create", malformed=True),
        Fault("create", status=200, body={"id": "caresp_someone_else"}),
        Fault("create", status=200, body=["not", "a", "response"]),
        Fault("create", status=200, body={"status": "ok"}),
        Fault("create", status=200, raw="<html>gateway</html>"),
    ],
    ids=["not-json", "wrong-id", "array", "no-id", "html"],
)
async def test_a_create_answered_200_with_a_wrong_body_is_not_stored(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, fault: Fault
) -> None:
    key = SessionKey("s", user="alice")
    first = await wire_store.append(key, make_turn(0))
    fake.inject(fault)
    with pytest.raises(CorruptDataError, match="unreadable answer") as caught:
        await wire_store.append(key, make_turn(1), head=first.head)
    assert caught.value.location is not None and caught.value.location.endswith("/storage/responses")
    assert len(fake.responses) == 1  # the fake did not store it, and the store did not claim it did
    # the caller's retry stores the turn once, and the chain is whole
    retried = await wire_store.append(key, make_turn(1), head=first.head)
    assert retried.stored == 2
    assert len(fake.responses) == 2
    assert texts(await wire_store.load(key, head=retried.head)) == [
        "question 0",
        "answer 0",
        "question 1",
        "answer 1",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [200, 201])
async def test_an_empty_create_answer_is_accepted_as_the_sdk_does(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, status: int
) -> None:
    key = SessionKey("s", user="alice")
    fake.inject(Fault("create", status=status, raw="", after_applying=True))
    result = await wire_store.append(key, make_turn(0))
    assert result.stored == 2
    assert texts(await wire_store.load(key, head=result.head)) == ["question 0", "answer 0"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        Fault("history", status=200, body={"data": ["msg_x"]}),
        Fault("history", status=200, body="msg_x"),
        Fault("history", status=200, body=[1, 2]),
        Fault("items", status=200, body={"data": []}),
        Fault("items", status=200, body=[]),
        Fault("items", status=200, body=["text", "text"]),
    ],
    ids=["history-object", "history-string", "history-numbers", "items-object", "items-short", "items-strings"],
)
async def test_a_read_answered_with_the_wrong_shape_is_corrupt_data(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, fault: Fault
) -> None:
    key = SessionKey("s", user="alice")
    head = (await wire_store.append(key, make_turn(0))).head
    fake.inject(fault)
    with pytest.raises(CorruptDataError, match="unreadable answer"):
        await wire_store.load(key, head=head)
    assert texts(await wire_store.load(key, head=head)) == ["question 0", "answer 0"]


@pytest.mark.asyncio
async def test_a_wrong_history_answer_on_append_is_not_a_new_chain(
    fake: FakeFoundryStorage, credential: StaticTokenCredential
) -> None:
    key = SessionKey("s", user="alice")
    async with open_foundry_store(fake.host_url, credential=credential) as first_process:
        head = (await first_process.append(key, make_turn(0))).head
    async with open_foundry_store(fake.host_url, credential=credential) as second_process:
        fake.inject(Fault("history", status=200, body={"oops": True}))
        with pytest.raises(CorruptDataError):
            await second_process.append(key, make_turn(1), head=head)
        assert len(fake.of("create")) == 1  # nothing written on a chain it could not read


# -- 4. every call is bounded by the timeout ---------------------------------------------------


@pytest_asyncio.fixture(params=["tls-then-silence", "no-handshake"])
async def silent_endpoint(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A loopback server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)  # take the request, answer nothing

    context: ssl.SSLContext | None = TLS.server_context() if request.param == "tls-then-silence" else None
    server = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    yield f"foundry://127.0.0.1:{port}/api/projects/p"
    for writer in held:
        writer.transport.abort()
    server.close()
    await server.wait_closed()


TIMEOUT = 0.5
# A read makes up to four attempts (azure-core's retries) with backoff between them: about
# 4 x 0.5 s + 5.6 s here. Without a timeout each attempt would wait azure-core's default 300 s.
BOUND = 60.0


@pytest.mark.asyncio
async def test_load_against_a_silent_endpoint_fails_within_the_timeout(silent_endpoint: str) -> None:
    async with open_foundry_store(silent_endpoint, credential=StaticTokenCredential(), timeout=TIMEOUT) as store:
        started = time.monotonic()
        with pytest.raises((ServiceRequestTimeoutError, ServiceResponseTimeoutError)) as caught:
            await asyncio.wait_for(store.load(SessionKey("s", user="u"), head=_some_head()), BOUND * 2)
        assert time.monotonic() - started < BOUND
    assert any("timeout=0.5s" in note for note in getattr(caught.value, "__notes__", []))
    assert isinstance(caught.value, StoreUnavailableError)


@pytest.mark.asyncio
async def test_append_against_a_silent_endpoint_fails_within_the_timeout(silent_endpoint: str) -> None:
    url = silent_endpoint + f"?timeout={TIMEOUT}"
    async with open_foundry_store(url, credential=StaticTokenCredential()) as store:
        started = time.monotonic()
        with pytest.raises((ServiceRequestTimeoutError, ServiceResponseTimeoutError)) as caught:
            await asyncio.wait_for(store.append(SessionKey("s", user="u"), make_turn(0)), BOUND * 2)
        assert time.monotonic() - started < BOUND
        assert store.failed_writes == 0  # a timeout propagates; it is not a swallowed storage error
    assert any("timeout=0.5s" in note for note in getattr(caught.value, "__notes__", []))
    assert isinstance(caught.value, FoundryUnavailableError)


def _some_head() -> str:
    from azure.ai.agentserver.responses._id_generator import IdGenerator

    return IdGenerator.new_response_id()


# -- chats of one user stay apart on the wire too ------------------------------------------------


@pytest.mark.asyncio
async def test_a_head_of_another_chat_or_user_reads_and_continues_nothing(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    alice = SessionKey("s", user="alice", chat="work")
    head = (await wire_store.append(alice, [make_item(1, "alice's work secret")])).head
    stored = fake.items[fake.chain_ids(str(head))[0]]
    assert isinstance(stored[PARTITION_KEY], str) and "alice" not in stored[PARTITION_KEY]
    for other in (SessionKey("s", user="alice", chat="home"), SessionKey("s", user="alice"), SessionKey("s")):
        assert await wire_store.load(other, head=head) == []
        continued = await wire_store.append(other, [make_item(2, "mine")], head=head)
        assert texts(await wire_store.load(other, head=continued.head)) == ["mine"]
        assert fake.of("create")[-1].body["history_item_ids"] == []
    assert texts(await wire_store.load(alice, head=head)) == ["alice's work secret"]
    assert PARTITION_KEY not in (await wire_store.load(alice, head=head))[0]
