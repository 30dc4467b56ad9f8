"""Type names shared by the modules of this backend."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["Connection"]

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
"""A pooled asyncpg connection, as the store's operations and hooks receive it."""
