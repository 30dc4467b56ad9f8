"""The real PostgreSQL server these tests use, and a fresh schema per test.

The DSN comes from ``AF_HISTORY_POSTGRES_DSN`` (default: the development and CI server). Every
schema a run creates starts with a name unique to the run and is dropped afterwards. Without a
reachable server the tests skip, except under CI (``CI`` set to ``1``, ``true`` or ``yes``, in any case,
as the root conftest reads it), where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from itertools import count
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from agent_framework_history_postgres import PostgresHistoryStore, open_postgres_store, probe

DSN_ENV = "AF_HISTORY_POSTGRES_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
RUN = f"af_test_{os.getpid()}_{secrets.token_hex(3)}"
"""Prefix of every schema this test run creates."""
_numbers = count()
CI_VALUES = frozenset({"1", "true", "yes"})
"""Values of ``CI`` that mean "this is CI" (the root conftest's set), compared case-insensitively."""


def server_required(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a missing server fails the run (under CI) instead of skipping the tests."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").lower() in CI_VALUES


def server_dsn() -> str:
    return os.environ.get(DSN_ENV) or DEFAULT_DSN


async def _drop_run_schemas(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        names = await conn.fetch("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", RUN)
        for row in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def dsn() -> Iterator[str]:
    """The server's DSN; skips (fails under CI) when it cannot be reached."""
    target = server_dsn()
    problem = asyncio.run(probe(target))
    if problem is not None:
        message = (
            f"No PostgreSQL server reachable at {target} ({problem}). Start one, or point {DSN_ENV} at one "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test)."
        )
        if server_required():
            pytest.fail(f"CI={os.environ['CI']} and the postgres tests cannot run: {message}", pytrace=False)
        pytest.skip(message)
    yield target
    asyncio.run(_drop_run_schemas(target))


def new_schema_name() -> str:
    return f"{RUN}_{next(_numbers)}"


@pytest_asyncio.fixture
async def admin(dsn: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A plain connection for looking behind the store's back."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest_asyncio.fixture
async def schema(dsn: str) -> AsyncIterator[str]:
    """A schema name no other test uses; dropped after the test."""
    name = new_schema_name()
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def pg_store(dsn: str, schema: str) -> AsyncIterator[PostgresHistoryStore]:
    """A fresh, empty store in its own schema."""
    store = open_postgres_store(dsn, schema=schema, pool_max_size=4)
    yield store
    await store.aclose()
