"""The memory backend in the shared workload."""

from __future__ import annotations

from pathlib import Path

NAME = "memory"


def target(tmp: Path) -> str | None:
    return "memory://"
