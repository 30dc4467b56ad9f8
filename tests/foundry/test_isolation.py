"""User isolation through PlatformContext, and the in-process head memory."""

from __future__ import annotations

import pytest
from azure.ai.agentserver.responses import InMemoryResponseProvider

from agent_framework_history import SessionKey, bind_request_context
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_foundry import open_foundry_store


def ids(items: list[dict[str, object]]) -> list[str]:
    return [str(item["id"]) for item in items]


@pytest.mark.asyncio
async def test_another_users_head_reads_nothing() -> None:
    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as store:
        alice = SessionKey("s", user="alice")
        head = (await store.append(alice, make_turn(0))).head
        assert ids(await store.load(alice, head=head)) == ["msg_0u", "msg_0a"]
        assert await store.load(SessionKey("s", user="bob"), head=head) == []
        assert await store.load(SessionKey("s"), head=head) == []  # anonymous is a partition of its own
        with bind_request_context(previous_response_id=head):
            assert await store.load(SessionKey("other", user="mallory")) == []


@pytest.mark.asyncio
async def test_users_partition_reaches_the_provider() -> None:
    provider = InMemoryResponseProvider()
    async with open_foundry_store("foundry://", response_provider=provider) as store:
        seen: list[tuple[str | None, str | None]] = []
        original = provider.get_history_item_ids

        async def spy(*args: object, **kwargs: object) -> list[str]:
            context = kwargs["context"]
            seen.append((context.user_id_key, context.call_id))  # type: ignore[attr-defined]
            return await original(*args, **kwargs)  # type: ignore[arg-type]

        provider.get_history_item_ids = spy  # type: ignore[method-assign]
        with bind_request_context(user="ignored-by-explicit-key", call_id="call-9"):
            head = (await store.append(SessionKey("s", user="alice"), make_turn(0))).head
            await store.load(SessionKey("s", user="alice"), head=head)
        assert seen == [("alice", "call-9")]


@pytest.mark.asyncio
async def test_latest_head_is_remembered_per_session_key() -> None:
    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as store:
        one, two = SessionKey("one", user="u"), SessionKey("two", user="u")
        await store.append(one, make_turn(0))
        await store.append(two, [make_item("other")])
        await store.append(one, make_turn(1))
        assert ids(await store.load(one)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert ids(await store.load(two)) == ["msg_other"]
        assert await store.load(SessionKey("one", user="someone-else")) == []


@pytest.mark.asyncio
async def test_a_head_that_is_not_a_response_id_is_rejected() -> None:
    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as store:
        with pytest.raises(ValueError, match="caresp_"):
            await store.load(SessionKey("s"), head="resp_123")


@pytest.mark.asyncio
async def test_reserved_original_id_key_is_refused() -> None:
    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as store:
        item = make_item(1)
        item["af_original_id"] = "x"
        with pytest.raises(ValueError, match="af_original_id"):
            await store.append(SessionKey("s"), [item])


@pytest.mark.asyncio
async def test_capabilities_are_honest() -> None:
    from agent_framework_history import Capability
    from agent_framework_history_foundry.testing import StaticTokenCredential

    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as in_memory:
        assert in_memory.capabilities == {Capability.CHAIN_HEAD}
    async with open_foundry_store("foundry://h.example/p", credential=StaticTokenCredential()) as service:
        assert service.capabilities == {Capability.CHAIN_HEAD, Capability.PERSISTENT}
