"""Conversation chains as the postgres backend stores them: turns, branches, heads, and bad heads."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from agent_framework_history import Capability, ConfigurationError, HistoryStoreError, SessionKey
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_postgres import PostgresHistoryStore, PostgresServerError, open_postgres_store

KEY = SessionKey("s1", user="u")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


async def _turns(admin: asyncpg.Connection[Any], store: PostgresHistoryStore) -> list[dict[str, Any]]:
    rows = await admin.fetch(
        f"SELECT t.turn, t.head, t.parent, t.branch, t.fork, t.first_seq, t.last_seq FROM {store.names.turns} t"
        f" JOIN {store.names.sessions} s ON s.id = t.session_ref WHERE s.session_id = $1 ORDER BY t.turn",
        KEY.session_id,
    )
    return [dict(r) for r in rows]


def test_the_store_declares_every_capability(pg_store: PostgresHistoryStore) -> None:
    assert pg_store.capabilities == frozenset(Capability) - {Capability.CHECK, Capability.REPAIR}


@pytest.mark.asyncio
async def test_heads_are_random_names_unique_across_sessions(pg_store: PostgresHistoryStore) -> None:
    heads = [(await pg_store.append(SessionKey(f"s{n}"), [make_item(1)])).head for n in range(20)]
    heads += [(await pg_store.append(KEY, make_turn(n))).head for n in range(5)]
    assert all(isinstance(h, str) and re.fullmatch(r"turn_[0-9a-f]{32}", h) for h in heads), heads
    assert len(set(heads)) == len(heads)
    # The first turn of every session does not get the same name (nor a counter's).
    assert len({h[:12] for h in heads[:20] if h}) > 1


@pytest.mark.asyncio
async def test_turns_form_branches(pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]) -> None:
    """At a branch's latest turn an append continues the branch; at an earlier one it starts a branch."""
    h1 = (await pg_store.append(KEY, make_turn(1))).head
    h2 = (await pg_store.append(KEY, make_turn(2), head=h1)).head
    h3 = (await pg_store.append(KEY, make_turn(3), head=h1)).head  # fork at turn 1: branch 3
    h4 = (await pg_store.append(KEY, make_turn(4), head=h3)).head  # continues branch 3
    h5 = (await pg_store.append(KEY, make_turn(5), head=h2)).head  # continues branch 1
    h6 = (await pg_store.append(KEY, make_turn(6), head=h3)).head  # fork at turn 3: branch 6
    h7 = (await pg_store.append(KEY, make_turn(7))).head  # the latest turn (6) continues
    turns = await _turns(admin, pg_store)
    assert [t["head"] for t in turns] == [h1, h2, h3, h4, h5, h6, h7]
    assert [(t["turn"], t["parent"], t["branch"], t["fork"]) for t in turns] == [
        (1, None, 1, None),
        (2, 1, 1, None),
        (3, 1, 3, 1),
        (4, 3, 3, 1),
        (5, 2, 1, None),
        (6, 3, 6, 3),
        (7, 6, 6, 3),
    ]
    assert [(t["first_seq"], t["last_seq"]) for t in turns] == [(2 * n + 1, 2 * n + 2) for n in range(7)]
    assert _ids(await pg_store.load(KEY, head=h7)) == [f"msg_{n}{r}" for n in (1, 3, 6, 7) for r in "ua"]
    assert _ids(await pg_store.load(KEY, head=h5)) == [f"msg_{n}{r}" for n in (1, 2, 5) for r in "ua"]
    assert _ids(await pg_store.load(KEY, head=h4)) == [f"msg_{n}{r}" for n in (1, 3, 4) for r in "ua"]
    assert _ids(await pg_store.load(KEY, head=h7, limit=3)) == ["msg_6a", "msg_7u", "msg_7a"]


@pytest.mark.asyncio
async def test_concurrent_appends_without_a_head_form_one_linear_chain(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    results = await asyncio.gather(*(pg_store.append(KEY, make_turn(n)) for n in range(30)))
    turns = await _turns(admin, pg_store)
    assert len(turns) == 30
    assert {t["head"] for t in turns} == {r.head for r in results}
    assert [t["parent"] for t in turns] == [None, *range(1, 30)]
    assert {t["branch"] for t in turns} == {1}
    assert len(await pg_store.load(KEY, head=turns[-1]["head"])) == 60


@pytest.mark.asyncio
async def test_a_retried_append_whose_first_attempt_committed_reports_that_turn(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    """The append function called twice with the same new head (a retry after a lost reply) stores once."""
    first = await pg_store.append(KEY, make_turn(0))
    args = ("u", "", "s1", False, first.head, "turn_" + "ab" * 16, ["msg_x", "msg_y"], ['{"id": 1}', '{"id": 2}'])
    once = await admin.fetchrow(pg_store.names.append, *args)
    again = await admin.fetchrow(pg_store.names.append, *args)
    assert tuple(once) == tuple(again) == (2, "turn_" + "ab" * 16, True)
    assert len(await _turns(admin, pg_store)) == 2
    assert await admin.fetchval(f"SELECT count(*) FROM {pg_store.names.items}") == 4


@pytest.mark.asyncio
@pytest.mark.parametrize("head", [7, b"turn_00", ["turn_x"], 1.5, ""])
async def test_a_head_that_is_not_a_string_is_rejected(pg_store: PostgresHistoryStore, head: Any) -> None:
    await pg_store.append(KEY, make_turn(0))
    with pytest.raises(ValueError, match=r"head must be None or a chain head string.*got"):
        await pg_store.load(KEY, head=head)
    with pytest.raises(ValueError, match=r"head must be None or a chain head string.*got"):
        await pg_store.append(KEY, make_turn(1), head=head)
    assert _ids(await pg_store.load(KEY)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "head", ["turn_1", "turn_" + "0" * 32, "turn_\x00" + "0" * 31, "x" * 10_000, "TURN_" + "a" * 32]
)
async def test_a_head_the_session_does_not_know_names_an_empty_chain(
    pg_store: PostgresHistoryStore, head: str, caplog: pytest.LogCaptureFixture
) -> None:
    await pg_store.append(KEY, make_turn(0))
    assert await pg_store.load(KEY, head=head) == []
    assert await pg_store.load(KEY, head=head, limit=5) == []
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.postgres"):
        result = await pg_store.append(KEY, make_turn(1), head=head)
    assert result.stored == 2 and result.head is not None
    assert _ids(await pg_store.load(KEY, head=result.head)) == ["msg_1u", "msg_1a"]  # a new root chain
    assert any("no such turn" in r.getMessage() and "new chain" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_a_known_head_logs_no_warning(pg_store: PostgresHistoryStore, caplog: pytest.LogCaptureFixture) -> None:
    head = (await pg_store.append(KEY, make_turn(0))).head  # opens the store (which may log its migration)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agent_framework_history.postgres"):
        await pg_store.append(KEY, make_turn(1), head=head)
        await pg_store.append(KEY, make_turn(2))
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.asyncio
async def test_nothing_new_at_the_latest_turn_returns_that_turn(pg_store: PostgresHistoryStore) -> None:
    h0 = (await pg_store.append(KEY, make_turn(0))).head
    await pg_store.append(KEY, make_turn(1), head=h0)
    latest = (await pg_store.append(KEY, make_turn(2), head=h0)).head  # a fork is the latest turn
    again = await pg_store.append(KEY, make_turn(2))
    assert (again.stored, again.head) == (0, latest)
    fresh = SessionKey("never")
    assert await pg_store.load(fresh) == []


@pytest.mark.asyncio
async def test_a_limit_larger_than_any_chain_means_all(pg_store: PostgresHistoryStore) -> None:
    head = (await pg_store.append(KEY, make_turn(0))).head
    await pg_store.append(KEY, make_turn(1))
    for limit in (2**63 - 1, 2**63, 99999999999999999999, 10**40):
        assert _ids(await pg_store.load(KEY, limit=limit)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert _ids(await pg_store.load(KEY, limit=limit, head=head)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_an_id_with_a_nul_character_is_refused_before_the_server(pg_store: PostgresHistoryStore) -> None:
    """The core's item check refuses it (a raw asyncpg error before): the id is named, nothing stored."""
    with pytest.raises(ValueError, match=r"items\[1\]\.id 'abc\\x00def' contains a NUL character"):
        await pg_store.append(KEY, [make_item(1), {"type": "message", "id": "abc\x00def"}])
    assert await pg_store.load(KEY) == []


@pytest.mark.asyncio
async def test_ids_too_long_to_index_are_a_value_error_and_a_history_store_error(
    pg_store: PostgresHistoryStore,
) -> None:
    with pytest.raises(ValueError, match=r"items\[0\] has an id of 2601 bytes") as caught:
        await pg_store.append(KEY, [{"type": "message", "id": "x" * 2601}])
    assert isinstance(caught.value, HistoryStoreError)
    assert await pg_store.load(KEY) == []


@pytest.mark.asyncio
async def test_nul_characters_inside_an_item_are_stored(pg_store: PostgresHistoryStore) -> None:
    item = make_item(1, "before\x00after")
    item["extra"] = {"k\x00ey": ["\x00"]}
    await pg_store.append(KEY, [item])
    assert await pg_store.load(KEY) == [item]


@pytest.mark.asyncio
async def test_tables_dropped_under_an_open_store_give_the_backends_error(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    await pg_store.append(KEY, make_turn(0))
    await admin.execute(f"DROP TABLE {pg_store.names.items} CASCADE")
    for operation in (lambda: pg_store.load(KEY), lambda: pg_store.load(KEY, limit=3), lambda: pg_store.delete(KEY)):
        with pytest.raises(
            PostgresServerError, match=r"history tables in schema .* are missing .*Open a new store"
        ) as caught:
            await operation()
        assert isinstance(caught.value, HistoryStoreError) and caught.value.sqlstate == "42P01"
        assert isinstance(caught.value.__cause__, asyncpg.UndefinedTableError)
        assert "\n" not in str(caught.value)
    await admin.execute(f"DROP FUNCTION {pg_store.names.append_routine}")
    with pytest.raises(PostgresServerError, match="missing") as caught:
        await pg_store.append(KEY, make_turn(1))
    assert caught.value.sqlstate == "42883"


@pytest.mark.asyncio
async def test_other_server_refusals_are_the_backends_error_with_the_sqlstate(
    pg_store: PostgresHistoryStore, admin: asyncpg.Connection[Any]
) -> None:
    await pg_store.append(KEY, make_turn(0))
    # A constraint added behind the store's back refuses the next append.
    await admin.execute(f"ALTER TABLE {pg_store.names.items} ADD CONSTRAINT no_x CHECK (item_id <> 'msg_x')")
    with pytest.raises(
        PostgresServerError, match=r"PostgreSQL refused append in schema .*SQLSTATE 23514.*Nothing"
    ) as caught:
        await pg_store.append(KEY, [make_item("x")])
    assert caught.value.sqlstate == "23514"
    assert _ids(await pg_store.load(KEY)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_a_cancelled_statement_is_the_backends_error(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    """A statement the server cancels (here its statement_timeout, while a table is locked) is reported so."""
    separator = "&" if "?" in dsn else "?"
    async with open_postgres_store(f"{dsn}{separator}statement_timeout=200", schema=schema) as store:
        await store.append(KEY, make_turn(0))
        async with admin.transaction():
            await admin.execute(f"LOCK TABLE {store.names.items} IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(PostgresServerError, match=r"PostgreSQL cancelled load in schema") as caught:
                await store.load(KEY)
        assert caught.value.sqlstate == "57014"
        assert _ids(await store.load(KEY)) == ["msg_0u", "msg_0a"]


@pytest.mark.asyncio
async def test_a_role_that_may_not_create_the_tables_gets_a_configuration_error(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    role = f"af_test_noperm_{secrets.token_hex(4)}"
    await admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        parts = urlsplit(dsn)
        netloc = f"{role}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        target = urlunsplit(parts._replace(netloc=netloc))
        store = open_postgres_store(target, schema=schema)
        with pytest.raises(
            ConfigurationError, match=r"role lacks a privilege for opening the store in schema .*Grant it"
        ) as caught:
            await store.connect()
        assert isinstance(caught.value.__cause__, asyncpg.InsufficientPrivilegeError)
        assert "\n" not in str(caught.value)
        await store.aclose()
    finally:
        await admin.execute(f"DROP ROLE {role}")


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_forks_and_replays_match_a_model_of_the_chains(pg_store: PostgresHistoryStore, seed: int) -> None:
    """Random appends at random heads (ids reused across branches and replayed) against a plain model."""
    rng = random.Random(seed)
    parent: dict[str, str | None] = {}
    own: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []  # heads in the order their turns were recorded

    def chain(head: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while head is not None:
            items[:0] = own[head]
            head = parent[head]
        return items

    for step in range(60):
        roll = rng.random()
        head = None if roll < 0.3 or not order else rng.choice(order)
        base = order[-1] if head is None and order else head
        batch = [make_item(rng.randrange(25), f"step {step}") for _ in range(rng.randint(1, 4))]
        known = {i["id"] for i in chain(base)}
        fresh: list[dict[str, Any]] = []
        for item in batch:
            if item["id"] not in known:
                known.add(item["id"])
                fresh.append(item)
        result = await pg_store.append(KEY, batch, head=head)
        assert result.stored == len(fresh), step
        if fresh:
            assert result.head is not None and result.head not in parent, step
            parent[result.head], own[result.head] = base, fresh
            order.append(result.head)
        else:
            assert result.head == base, step
    for head in order:
        expected = chain(head)
        assert await pg_store.load(KEY, head=head) == expected
        limit = rng.randint(1, len(expected) + 2)
        assert await pg_store.load(KEY, head=head, limit=limit) == expected[-limit:]
    assert await pg_store.load(KEY) == chain(order[-1])
