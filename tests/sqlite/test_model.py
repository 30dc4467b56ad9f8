"""Random sequences of operations give what a plain list-per-session model gives."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_framework_history import ALL, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_sqlite import SQLiteHistoryStore

KEYS = [SessionKey(s, user=u, chat=c) for s in ("a", "b") for u in (None, "u") for c in (None, "c")]

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("append"),
            st.sampled_from(KEYS),
            st.lists(st.integers(min_value=0, max_value=12), min_size=0, max_size=5),
        ),
        st.tuples(st.just("load"), st.sampled_from(KEYS), st.one_of(st.none(), st.integers(0, 8))),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    ),
    max_size=30,
)


async def check(ops: list[tuple[str, SessionKey, Any]]) -> None:
    model: dict[SessionKey, list[str]] = {}
    async with SQLiteHistoryStore(":memory:") as store:
        for op, key, arg in ops:
            if op == "append":
                ids = [f"msg_{n}" for n in arg]
                held = model.setdefault(key, [])
                fresh = [i for i in dict.fromkeys(ids) if i not in held]
                held.extend(fresh)
                result = await store.append(key, [make_item(n) for n in arg])
                assert result.stored == len(fresh)
            elif op == "load":
                expected = model.get(key, [])
                if arg is not None:
                    expected = expected[-arg:] if arg else []
                assert [i["id"] for i in await store.load(key, limit=arg)] == expected
            else:
                assert await store.delete(key) == bool(model.pop(key, None))
        for key in KEYS:
            assert [i["id"] for i in await store.load(key)] == model.get(key, [])
        listed = {k async for k in store.list_sessions(user=ALL, chat=ALL)}
        assert listed == {k for k, ids in model.items() if ids}


@settings(max_examples=60, deadline=None)
@given(operations)
def test_store_matches_a_list_per_session_model(ops: list[tuple[str, SessionKey, Any]]) -> None:
    asyncio.run(check(ops))
