"""A fresh store of every backend: memory, jsonl, sqlite, PostgreSQL, and foundry on the SDK's in-memory provider."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from agent_framework_history import HistoryStore, open_store

BACKENDS = ["memory", "jsonl", "sqlite", "postgres", "foundry"]
"""Every first-party backend (foundry on the SDK's in-memory response provider, not the service)."""


def open_backend(name: str, folder: Path) -> HistoryStore:
    """A new, empty store of backend ``name`` (PostgreSQL: a schema of its own; skipped without a server
    unless ``CI`` is set)."""
    if name == "memory":
        return open_store("memory://")
    if name == "jsonl":
        return open_store(f"jsonl://{folder}/histories")
    if name == "sqlite":
        return open_store(f"sqlite:///{folder}/h.db")
    if name == "foundry":
        from azure.ai.agentserver.responses import InMemoryResponseProvider

        from agent_framework_history_foundry import open_foundry_store

        return open_foundry_store("foundry://", response_provider=InMemoryResponseProvider())
    dsn = os.environ.get("AF_HISTORY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        return open_store(dsn, schema=f"it_{uuid.uuid4().hex[:12]}")
    except Exception as exc:  # pragma: no cover - only without a server
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
