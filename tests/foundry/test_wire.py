"""The real FoundryStorageProvider talking HTTPS to a loopback fake of the storage API."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from azure.ai.agentserver.responses import FoundryApiError, FoundryBadRequestError
from azure.ai.agentserver.responses._id_generator import IdGenerator
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from agent_framework_history import CorruptDataError, SessionKey, bind_request_context
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_foundry import ORIGINAL_ID_KEY, FoundryHistoryStore, open_foundry_store
from agent_framework_history_foundry.testing import FakeFoundryStorage, Fault, StaticTokenCredential

KEY = SessionKey("conversation", user="alice")
FAST_RETRY = {"x-ms-retry-after-ms": "1"}  # the service's own retry hint: keeps azure-core's retries quick


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def three_turns(store: FoundryHistoryStore) -> list[str]:
    heads: list[str] = []
    head: str | None = None
    for n in range(3):
        with bind_request_context(user="alice", call_id=f"call-{n}"):
            await store.load(KEY, head=head)
            result = await store.append(KEY, make_turn(n), head=head)
        assert result.stored == 2 and result.head is not None
        head = result.head
        heads.append(head)
    return heads


@pytest.mark.asyncio
async def test_three_turn_conversation_on_the_wire(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, credential: StaticTokenCredential
) -> None:
    heads = await three_turns(wire_store)
    with bind_request_context(user="alice", call_id="call-3"):
        loaded = await wire_store.load(KEY, head=heads[-1])
    assert loaded == [*make_turn(0), *make_turn(1), *make_turn(2)]

    for request in fake.requests:
        assert request.path.startswith("/api/projects/test-project/storage/")
        assert request.query["api-version"] == "v1"
        assert request.headers["Authorization"] == "Bearer token-123"
    assert {scopes for scopes in credential.scopes} == {("https://ai.azure.com/.default",)}

    creates = fake.of("create")
    assert [r.path for r in creates] == ["/api/projects/test-project/storage/responses"] * 3
    assert [r.headers["x-agent-foundry-call-id"] for r in creates] == ["call-0", "call-1", "call-2"]
    chain: list[str] = []
    for n, request in enumerate(creates):
        body = request.body
        response = body["response"]
        assert response["id"] == heads[n]
        assert response["object"] == "response"
        assert response["status"] == "completed"
        assert isinstance(response["created_at"], int)
        assert response["background"] is False and response["parallel_tool_calls"] is False
        assert response["instructions"] == ""
        assert response.get("previous_response_id") == (heads[n - 1] if n else None)
        for absent in ("agent_reference", "model", "agent_session_id"):
            assert absent not in response  # left out, not null, when the environment does not name them
        assert body["history_item_ids"] == chain  # the whole earlier chain, every turn
        [user_item] = body["input_items"]
        [assistant_item] = response["output"]
        assert user_item[ORIGINAL_ID_KEY] == f"msg_{n}u" and assistant_item[ORIGINAL_ID_KEY] == f"msg_{n}a"
        for item in (user_item, assistant_item):
            assert IdGenerator.is_valid(item["id"], ["msg"]) == (True, None)
            assert IdGenerator.extract_partition_key(item["id"]) == IdGenerator.extract_partition_key(heads[n])
        chain += [user_item["id"], assistant_item["id"]]
    # the chain shares one partition key
    assert len({IdGenerator.extract_partition_key(h) for h in heads}) == 1

    history = fake.of("history")
    assert all(r.path.endswith("/storage/history/item_ids") for r in history)
    assert [r.query["previous_response_id"] for r in history] == [heads[0], heads[1], heads[2]]
    assert all(r.query["limit"] == "-1" for r in history)
    batch = fake.of("items")[-1]
    assert batch.path.endswith("/storage/items/batch/retrieve")
    assert batch.body == {"item_ids": fake.chain_ids(heads[2])}
    assert batch.headers["x-agent-foundry-call-id"] == "call-3"


@pytest.mark.asyncio
async def test_a_turn_costs_at_most_one_write_and_two_reads(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    head: str | None = None
    for n in range(4):
        before = fake.counts()
        await wire_store.load(KEY, head=head)
        head = (await wire_store.append(KEY, make_turn(n), head=head)).head
        spent = fake.counts() - before
        assert spent["create"] == 1
        assert spent["history"] + spent["items"] + spent["get_response"] <= 2


@pytest.mark.asyncio
async def test_reappending_loaded_items_sends_no_write(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    head = (await wire_store.append(KEY, make_turn(0))).head
    loaded = await wire_store.load(KEY, head=head)
    before = fake.counts()
    result = await wire_store.append(KEY, loaded, head=head)
    assert result.stored == 0 and result.head == head
    assert fake.counts() - before == {}


@pytest.mark.asyncio
async def test_append_after_a_cold_start_reads_the_chain_once(
    fake: FakeFoundryStorage, credential: StaticTokenCredential
) -> None:
    async with open_foundry_store(fake.host_url, credential=credential) as first:
        head = (await first.append(KEY, make_turn(0))).head
    async with open_foundry_store(fake.host_url, credential=credential) as second:
        before = fake.counts()
        result = await second.append(KEY, [*make_turn(0), *make_turn(1)], head=head)
        assert result.stored == 2
        spent = fake.counts() - before
        assert spent == {"create": 1, "history": 1, "items": 1}
        assert ids(await second.load(KEY, head=result.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


@pytest.mark.asyncio
async def test_envelope_names_agent_model_and_container_session_from_env(
    fake: FakeFoundryStorage, credential: StaticTokenCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOUNDRY_AGENT_NAME", "helper")
    monkeypatch.setenv("FOUNDRY_AGENT_VERSION", "7")
    monkeypatch.setenv("FOUNDRY_AGENT_SESSION_ID", "container-42")
    monkeypatch.setenv("AZURE_AI_MODEL_DEPLOYMENT_NAME", "fallback-model")
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        await store.append(KEY, make_turn(0))
    monkeypatch.setenv("MODEL_DEPLOYMENT_NAME", "gpt-test")
    monkeypatch.delenv("FOUNDRY_AGENT_VERSION")
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        await store.append(KEY, make_turn(0))
    first, second = (r.body["response"] for r in fake.of("create"))
    assert first["agent_reference"] == {"type": "agent_reference", "name": "helper", "version": "7"}
    assert first["model"] == "fallback-model"
    assert first["agent_session_id"] == "container-42"
    assert second["agent_reference"] == {"type": "agent_reference", "name": "helper"}
    assert second["model"] == "gpt-test"


@pytest.mark.asyncio
async def test_bound_request_names_the_chain_and_the_new_response(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    first = (await wire_store.append(KEY, make_turn(0))).head
    assert first is not None
    planned = IdGenerator.new_response_id(first)
    other_session = SessionKey("another-session", user="alice")  # no head of its own
    with bind_request_context(user="alice", previous_response_id=first, response_id=planned, call_id="c"):
        assert ids(await wire_store.load(other_session)) == ["msg_0u", "msg_0a"]
        result = await wire_store.append(other_session, make_turn(1), head=None)
        assert result.head == planned
        # a second save inside the same request continues after the response it just wrote
        again = await wire_store.append(other_session, [make_item("extra")])
    assert again.head not in (None, planned)
    create = fake.of("create")[1].body
    assert create["response"]["id"] == planned
    assert create["response"]["previous_response_id"] == first
    assert create["history_item_ids"] == fake.chain_ids(first)
    assert ids(await wire_store.load(KEY, head=again.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a", "msg_extra"]


@pytest.mark.asyncio
async def test_container_session_id_is_never_a_history_anchor(
    fake: FakeFoundryStorage, credential: StaticTokenCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        existing = (await store.append(KEY, make_turn(0))).head
    assert existing is not None
    monkeypatch.setenv("FOUNDRY_AGENT_SESSION_ID", existing)
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        before = len(fake.requests)
        assert await store.load(SessionKey("fresh", user="alice")) == []
        result = await store.append(SessionKey("fresh", user="alice"), make_turn(1))
        assert result.stored == 2
    create = fake.of("create")[-1].body
    assert "previous_response_id" not in create["response"] and create["history_item_ids"] == []
    assert not [r for r in fake.requests[before:] if r.query.get("previous_response_id") == existing]


@pytest.mark.asyncio
async def test_session_id_that_is_a_response_id_continues_that_chain(
    fake: FakeFoundryStorage, credential: StaticTokenCredential
) -> None:
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        head = (await store.append(KEY, make_turn(0))).head
    assert head is not None
    async with open_foundry_store(fake.host_url, credential=credential) as store:
        key = SessionKey(head, user="alice")
        assert ids(await store.load(key)) == ["msg_0u", "msg_0a"]
        result = await store.append(key, make_turn(1))
        assert ids(await store.load(key, head=result.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]


# -- faults -----------------------------------------------------------------------------


async def assert_conversation(store: FoundryHistoryStore, head: str | None, expected: list[str]) -> None:
    assert ids(await store.load(KEY, head=head)) == expected


@pytest.mark.asyncio
async def test_429_with_retry_after_is_retried_and_the_turn_lands_once(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    first = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("create", status=429, headers={"Retry-After": "1"}))
    second = await wire_store.append(KEY, make_turn(1), head=first)
    assert second.stored == 2 and wire_store.failed_writes == 0
    attempts = fake.of("create")[1:]
    assert len(attempts) == 2 and attempts[0].body == attempts[1].body
    third = await wire_store.append(KEY, make_turn(2), head=second.head)
    await assert_conversation(wire_store, third.head, [f"msg_{n}{r}" for n in range(3) for r in "ua"])


@pytest.mark.asyncio
async def test_500_once_is_retried_with_no_lost_turn(fake: FakeFoundryStorage, wire_store: FoundryHistoryStore) -> None:
    first = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("create", status=500, after_applying=True))  # stored, but the answer was an error
    second = await wire_store.append(KEY, make_turn(1), head=first)
    assert second.stored == 2 and wire_store.failed_writes == 0  # the retry met a 409: already stored
    assert len(fake.responses) == 2
    third = await wire_store.append(KEY, make_turn(2), head=second.head)
    await assert_conversation(wire_store, third.head, [f"msg_{n}{r}" for n in range(3) for r in "ua"])


@pytest.mark.asyncio
async def test_persistent_503_is_counted_logged_and_swallowed(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    first = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("create", status=503, headers=FAST_RETRY, body={}, times=10))
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.foundry"):
        result = await wire_store.append(KEY, make_turn(1), head=first)
    assert result.stored == 0 and result.head == first
    assert wire_store.failed_writes == 1
    assert len(fake.of("create")) == 1 + 4  # azure-core: the first try and three retries
    [record] = [r for r in caplog.records if r.name == "agent_framework_history.foundry"]
    assert "HTTP 503" in record.getMessage() and "FoundryApiError" in record.getMessage()
    # the chain is intact and the next turn continues it
    fake.faults.clear()
    third = await wire_store.append(KEY, make_turn(2), head=result.head)
    await assert_conversation(wire_store, third.head, ["msg_0u", "msg_0a", "msg_2u", "msg_2a"])


@pytest.mark.asyncio
async def test_service_error_message_is_logged(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject(
        Fault("create", status=400, body={"error": {"code": "invalid_payload", "message": "output is malformed"}})
    )
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.foundry"):
        result = await wire_store.append(KEY, make_turn(0))
    assert result == result.__class__(stored=0, head=None)
    assert wire_store.failed_writes == 1
    message = next(r.getMessage() for r in caplog.records if r.name == "agent_framework_history.foundry")
    assert "HTTP 400/409" in message and "output is malformed" in message and "invalid_payload" in message


@pytest.mark.asyncio
async def test_write_errors_raise_when_asked(fake: FakeFoundryStorage, credential: StaticTokenCredential) -> None:
    async with open_foundry_store(fake.host_url, credential=credential, raise_on_write_error=True) as store:
        fake.inject(Fault("create", status=400))
        with pytest.raises(FoundryBadRequestError):
            await store.append(KEY, make_turn(0))
        assert store.failed_writes == 1


@pytest.mark.asyncio
async def test_dropped_connection_propagates_and_a_retried_turn_lands_once(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    first = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("create", drop=True, after_applying=True))
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        await wire_store.append(KEY, make_turn(1), head=first)
    assert wire_store.failed_writes == 0  # a network failure is not swallowed
    retried = await wire_store.append(KEY, make_turn(1), head=first)  # the caller retries the same turn
    assert retried.stored == 2
    assert len(fake.responses) == 2  # the retry reused the response id: no second copy
    third = await wire_store.append(KEY, make_turn(2), head=retried.head)
    await assert_conversation(wire_store, third.head, [f"msg_{n}{r}" for n in range(3) for r in "ua"])


@pytest.mark.asyncio
async def test_dropped_connection_on_a_read_is_retried(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    head = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("history", drop=True))
    await assert_conversation(wire_store, head, ["msg_0u", "msg_0a"])
    assert len(fake.of("history")) == 2


@pytest.mark.asyncio
async def test_unknown_previous_response_is_an_empty_history(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    unknown = IdGenerator.new_response_id()
    assert await wire_store.load(KEY, head=unknown) == []
    assert fake.requests[-1].query["previous_response_id"] == unknown  # the service answered 404
    result = await wire_store.append(KEY, make_turn(0), head=unknown)
    assert result.stored == 2 and wire_store.failed_writes == 0
    create = fake.of("create")[-1].body
    assert create["history_item_ids"] == [] and "previous_response_id" not in create["response"]


@pytest.mark.asyncio
async def test_404_on_a_read_is_empty_and_other_read_errors_propagate(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore
) -> None:
    head = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault("history", status=404))
    assert await wire_store.load(KEY, head=head) == []
    fake.inject(Fault("history", status=500, headers=FAST_RETRY, times=4))
    with pytest.raises(FoundryApiError):
        await wire_store.load(KEY, head=head)
    await assert_conversation(wire_store, head, ["msg_0u", "msg_0a"])


@pytest.mark.asyncio
@pytest.mark.parametrize("operation", ["history", "items"])
async def test_malformed_json_is_reported_as_corrupt_data(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, operation: Any
) -> None:
    head = (await wire_store.append(KEY, make_turn(0))).head
    fake.inject(Fault(operation, malformed=True))
    with pytest.raises(CorruptDataError, match="unreadable"):
        await wire_store.load(KEY, head=head)
    await assert_conversation(wire_store, head, ["msg_0u", "msg_0a"])


@pytest.mark.asyncio
async def test_item_missing_from_the_service_is_left_out_with_a_warning(
    fake: FakeFoundryStorage, wire_store: FoundryHistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    head = (await wire_store.append(KEY, make_turn(0))).head
    assert head is not None
    del fake.items[fake.chain_ids(head)[0]]
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.foundry"):
        assert ids(await wire_store.load(KEY, head=head)) == ["msg_0a"]
    assert any("no longer has item" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_turn_with_tool_calls_keeps_its_order(fake: FakeFoundryStorage, wire_store: FoundryHistoryStore) -> None:
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "c1",
        "name": "f",
        "arguments": "{}",
        "status": "completed",
    }
    output = {"type": "function_call_output", "id": "fco_1", "call_id": "c1", "output": "42", "status": "completed"}
    turn = [make_item("q"), call, output, make_item("a", role="assistant")]
    head = (await wire_store.append(KEY, turn)).head
    assert await wire_store.load(KEY, head=head) == turn
    body = fake.of("create")[0].body
    assert [i[ORIGINAL_ID_KEY] for i in body["input_items"]] == ["msg_q"]
    assert [i[ORIGINAL_ID_KEY] for i in body["response"]["output"]] == ["fc_1", "fco_1", "msg_a"]
    assert [i["id"].split("_")[0] for i in body["response"]["output"]] == ["fc", "fco", "msg"]


@pytest.mark.asyncio
async def test_a_passed_credential_is_left_open(fake: FakeFoundryStorage, credential: StaticTokenCredential) -> None:
    store = open_foundry_store(fake.host_url, credential=credential)
    await store.append(KEY, make_turn(0))
    await store.aclose()
    assert credential.closed is False
