"""A connectivity check, for hosts, tests and benchmarks that want to know before they open a store."""

from __future__ import annotations

__all__ = ["probe"]


async def probe(dsn: str, *, connect_timeout: float = 5.0) -> str | None:
    """Connect once to ``dsn``: ``None`` when the server answers, else what went wrong (one line)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=connect_timeout)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None
