"""Create and upgrade a store's tables on open, safely when several replicas start at once."""

from __future__ import annotations

import logging

from agent_framework_history.backend import SchemaVersionError

from ._schema import LATEST_VERSION, Names, migrations
from ._types import Connection

__all__ = ["ensure_schema", "read_version"]

logger = logging.getLogger("agent_framework_history.postgres")


async def read_version(conn: Connection, names: Names) -> int:
    """The schema version applied so far (``0`` when the tables do not exist)."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", names.version_table)
    if not exists:
        return 0
    version = await conn.fetchval(names.current_version)
    return int(version or 0)


def _too_new(names: Names, version: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"The history tables in schema {names.schema!r} (prefix {names.prefix!r}) are at version {version}, but this "
        f"agent-framework-history-postgres knows versions up to {LATEST_VERSION}; upgrade it on this replica."
    )


async def ensure_schema(conn: Connection, names: Names) -> int:
    """Bring the tables to :data:`LATEST_VERSION`; returns the number of migrations applied.

    Replicas that start together all get here: the first takes a transaction-scoped advisory
    lock and migrates; the others wait on the lock, then find the work done. DDL is
    transactional in PostgreSQL, so a migration that fails leaves nothing behind.
    """
    version = await read_version(conn, names)
    if version == LATEST_VERSION:
        return 0
    if version > LATEST_VERSION:
        raise _too_new(names, version)
    applied = 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", names.lock_key)
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", names.schema):
            await conn.execute(f"CREATE SCHEMA {names.quoted_schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {names.version_table} ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = await read_version(conn, names)
        if version > LATEST_VERSION:
            raise _too_new(names, version)
        for migration in migrations(names):
            if migration.version <= version:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {names.version_table} (version, description) VALUES ($1, $2)",
                migration.version,
                migration.description,
            )
            applied += 1
            logger.info(
                "Migrated history tables %s to version %d (%s).", names.items, migration.version, migration.description
            )
    return applied
