from __future__ import annotations

import asyncio

import pytest

from agent_framework_history import RequestContext, bind_request_context, current_request_context


def test_unbound_context_is_empty() -> None:
    assert current_request_context() == RequestContext()


def test_nested_binding_restores_the_outer_one() -> None:
    with bind_request_context(user="alice", call_id="c1"):
        with bind_request_context(user="bob", previous_response_id="caresp_1"):
            assert current_request_context() == RequestContext(user="bob", previous_response_id="caresp_1")
        assert current_request_context() == RequestContext(user="alice", call_id="c1")
    assert current_request_context() == RequestContext()


def test_binding_is_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), bind_request_context(user="alice"):
        raise RuntimeError("boom")
    assert current_request_context().user is None


@pytest.mark.asyncio
async def test_concurrent_tasks_see_their_own_binding() -> None:
    async def serve(user: str) -> list[str | None]:
        seen: list[str | None] = []
        with bind_request_context(user=user, chat=f"chat-{user}"):
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append(current_request_context().user)
        return seen

    results = await asyncio.gather(*(serve(f"u{i}") for i in range(20)))
    for i, seen in enumerate(results):
        assert seen == [f"u{i}"] * 5


@pytest.mark.parametrize("field", ["user", "chat", "response_id", "previous_response_id", "call_id"])
def test_empty_or_non_string_values_are_rejected(field: str) -> None:
    with pytest.raises(ValueError, match=field), bind_request_context(**{field: ""}):  # type: ignore[arg-type]
        pass
    with pytest.raises(ValueError, match=field), bind_request_context(**{field: 7}):  # type: ignore[arg-type]
        pass
