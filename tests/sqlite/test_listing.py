"""list_sessions filters by partition: named users, the anonymous partition and chats stay apart."""

from __future__ import annotations

from typing import Any

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


@pytest.mark.asyncio
async def test_list_sessions_reads_page_by_page(tmp_path: Any) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        store.LIST_PAGE_SIZE = 3  # type: ignore[misc]
        keys = {SessionKey(f"s{n}", user="u" if n % 2 else None, chat="c" if n % 3 else None) for n in range(10)}
        for key in keys:
            await store.append(key, [make_item(1)])
        await store.append(SessionKey("emptied"), [make_item(1)])
        await store.delete(SessionKey("emptied"))
        reads = 0
        real = store._db.read  # pyright: ignore[reportPrivateUsage]

        async def counted(operation: Any) -> Any:
            nonlocal reads
            reads += 1
            return await real(operation)

        store._db.read = counted  # type: ignore[method-assign]  # pyright: ignore[reportPrivateUsage]
        listing = store.list_sessions(user=ALL, chat=ALL)
        first = await listing.__anext__()
        assert reads == 1  # the first key comes from the first page alone
        rest = [key async for key in listing]
        assert {first, *rest} == keys and len(rest) == 9
        assert reads == 4  # 3 + 3 + 3 + 1
        assert [(k.user or "", k.chat or "", k.session_id) for k in [first, *rest]] == sorted(
            (k.user or "", k.chat or "", k.session_id) for k in keys
        )
        assert {k async for k in store.list_sessions(user="u", chat=ALL)} == {k for k in keys if k.user == "u"}
        assert {k async for k in store.list_sessions()} == {k for k in keys if k.user is None and k.chat is None}
