"""list_sessions filters by partition: named users, the anonymous partition and chats stay apart."""

from __future__ import annotations

import pytest

from agent_framework_history import ALL, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_sqlite import SQLiteHistoryStore

KEYS = [
    SessionKey("s"),
    SessionKey("s", user="alice"),
    SessionKey("t", user="alice"),
    SessionKey("s", chat="c"),
    SessionKey("s", user="alice", chat="c"),
    SessionKey("u", user="bob"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("partition", "expected"),
    [
        ({"user": "alice"}, {SessionKey("s", user="alice"), SessionKey("t", user="alice")}),
        ({}, {SessionKey("s")}),  # the anonymous partition holds none of alice's sessions
        ({"user": None, "chat": None}, {SessionKey("s")}),
        ({"user": "bob"}, {SessionKey("u", user="bob")}),
        ({"user": "carol"}, set()),
        ({"chat": "c"}, {SessionKey("s", chat="c")}),
        ({"user": "alice", "chat": "c"}, {SessionKey("s", user="alice", chat="c")}),
        (
            {"user": ALL},
            {
                SessionKey("s"),
                SessionKey("s", user="alice"),
                SessionKey("t", user="alice"),
                SessionKey("u", user="bob"),
            },
        ),
        (
            {"user": "alice", "chat": ALL},
            {SessionKey("s", user="alice"), SessionKey("t", user="alice"), SessionKey("s", user="alice", chat="c")},
        ),
        ({"user": ALL, "chat": ALL}, set(KEYS)),
    ],
)
async def test_list_sessions_returns_exactly_the_partition(
    partition: dict[str, object], expected: set[SessionKey]
) -> None:
    async with SQLiteHistoryStore(":memory:") as store:
        for key in KEYS:
            await store.append(key, [make_item(1)])
        listed = [key async for key in store.list_sessions(**partition)]  # type: ignore[arg-type]
        assert len(listed) == len(set(listed))
        assert set(listed) == expected
