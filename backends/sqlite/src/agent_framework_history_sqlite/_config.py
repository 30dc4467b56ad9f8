"""``sqlite://`` URLs and keyword options, turned into one validated :class:`SQLiteConfig`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from agent_framework_history.backend import ConfigurationError, StoreTarget
from agent_framework_history.backend import parse_target as parse_store_target

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_PATH",
    "MEMORY",
    "Mode",
    "SQLiteConfig",
    "Synchronous",
    "config_of",
    "parse_target",
]

MEMORY: Final = ":memory:"
"""The path that opens a private in-memory database."""

DEFAULT_PATH: Final = Path(".af-history") / "history.db"
"""What ``sqlite://`` (no path at all) opens, relative to the working directory."""

DEFAULT_BUSY_TIMEOUT: Final = 10.0
"""Seconds a write waits for another connection's lock before giving up."""

Synchronous = Literal["normal", "full", "extra"]
_SYNCHRONOUS: Final[tuple[Synchronous, ...]] = ("normal", "full", "extra")
Mode = Literal["rw", "ro"]
_MODES: Final[tuple[Mode, ...]] = ("rw", "ro")
_OPTIONS: Final = ("busy_timeout", "synchronous", "mode")


@dataclass(frozen=True, slots=True)
class SQLiteConfig:
    """Where the database lives and how connections to it are set up.

    ``path`` is :data:`MEMORY` for a private in-memory database, else a file path (relative
    paths are taken relative to the working directory when the store is opened). ``mode``
    ``"rw"`` opens the file for reading and writing, read-only when it cannot be written;
    ``"ro"`` always opens it read-only and never writes to it.
    """

    path: str
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    synchronous: Synchronous = "normal"
    mode: Mode = "rw"

    def __post_init__(self) -> None:
        object.__setattr__(self, "busy_timeout", _busy_timeout(self.busy_timeout))
        object.__setattr__(self, "synchronous", _synchronous(self.synchronous))
        object.__setattr__(self, "mode", _mode(self.mode))
        if not self.path:
            raise ConfigurationError(f"The SQLite database path must be a non-empty string, got {self.path!r}.")
        if "\x00" in self.path:
            raise ConfigurationError(f"The SQLite database path must not contain NUL characters: {self.path!r}.")
        if self.mode == "ro" and self.in_memory:
            raise ConfigurationError("mode='ro' needs a database file; a new in-memory database is empty.")

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def describe(self) -> str:
        """How error messages name this database."""
        return "the in-memory SQLite database" if self.in_memory else f"SQLite database {self.path!r}"


def _busy_timeout(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigurationError(
                f"busy_timeout must be a number of seconds, got {value!r}; for example busy_timeout=10."
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"busy_timeout must be a number of seconds, got {type(value).__name__} {value!r}.")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(f"busy_timeout must be a finite number of seconds >= 0, got {value!r}.")
    return seconds


def _synchronous(value: object) -> Synchronous:
    text = value.strip().lower() if isinstance(value, str) else value
    for choice in _SYNCHRONOUS:
        if text == choice:
            return choice
    raise ConfigurationError(
        f"synchronous must be one of {', '.join(repr(c) for c in _SYNCHRONOUS)}, got {value!r}. "
        "'normal' (the default) survives a crash of the process; 'full' also survives a power cut."
    )


def _mode(value: object) -> Mode:
    text = value.strip().lower() if isinstance(value, str) else value
    for choice in _MODES:
        if text == choice:
            return choice
    raise ConfigurationError(
        f"mode must be 'rw' (read and write; read-only when the file cannot be written) or 'ro' (read-only), "
        f"got {value!r}."
    )


def _path_of(target: StoreTarget) -> str:
    if target.scheme != "sqlite":
        raise ConfigurationError(f"Not a sqlite:// URL: {target.redacted!r}; use sqlite:///relative/path.db.")
    if target.fragment:
        raise ConfigurationError(f"sqlite:// URLs take no '#fragment': {target.redacted!r}.")
    if target.host:
        raise ConfigurationError(
            f"Cannot read the SQLite URL {target.redacted!r}: the part after 'sqlite://' must start with '/'. "
            f"Write sqlite:///{target.location} for a path relative to the working directory, "
            f"or sqlite:////absolute/path.db for an absolute one."
        )
    if not target.location:
        return str(DEFAULT_PATH)
    path = target.path[1:]
    if not path:
        raise ConfigurationError(
            f"The SQLite URL {target.redacted!r} names no file. Write sqlite:///history.db (relative), "
            "sqlite:////abs/history.db (absolute), sqlite:///:memory: (in memory), or sqlite:// for the default "
            f"{DEFAULT_PATH.as_posix()}."
        )
    return path


def config_of(target: StoreTarget) -> SQLiteConfig:
    """The settings a parsed ``sqlite://`` target names: its file and options (``busy_timeout``, ...)."""
    path = _path_of(target)
    target.refuse_unknown(_OPTIONS, "sqlite")
    options = target.options
    return SQLiteConfig(
        path,
        busy_timeout=options.get("busy_timeout", DEFAULT_BUSY_TIMEOUT),
        synchronous=options.get("synchronous", "normal"),
        mode=options.get("mode", "rw"),
    )


def parse_target(target: str, options: Mapping[str, Any]) -> SQLiteConfig:
    """Read a ``sqlite://`` URL and keyword options (given both ways, an option must have the same value)."""
    return config_of(parse_store_target(target, **options))
