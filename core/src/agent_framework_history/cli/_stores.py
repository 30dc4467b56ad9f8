"""Opening the store a command names (or the selector's choice) and walking its sessions."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import click

from .._keys import ALL, AllPartitions, SessionKey
from .._plugins import get_registry
from .._selector import find_backend, open_now, open_target, resolve_target
from .._store import Capability, HistoryStore
from ._errors import CliError

__all__ = [
    "ConsoleRun",
    "Partition",
    "collect_sessions",
    "describe_target",
    "key_json",
    "opened",
    "partition",
    "session_key",
    "sort_key",
]

Partition = tuple[str | AllPartitions | None, str | AllPartitions | None]


class ConsoleRun:
    """The click ``obj`` of a run of the console script: the process ends with the command."""


def describe_target(target: str | None) -> str:
    """The URL a command works on: ``target`` itself, or what the selector would choose."""
    if target is not None:
        return target
    return resolve_target().target


def _require_existing(target: str, label: str) -> None:
    """Refuse a store its backend says is not there (a missing file or directory), before opening creates it."""
    spec, parsed = find_backend(target, get_registry())
    if spec.exists is not None and not spec.exists(parsed):
        raise CliError(
            f"The store {label} does not exist (no such file or directory); check the URL. "
            "Commands that read a store never create one."
        )


def _process_ends_with_command() -> bool:
    """Whether this process exits when the command ends (the console script), as opposed to ``app`` run in-process."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and isinstance(ctx.find_root().obj, ConsoleRun)


def _require_persistent(store: HistoryStore, label: str) -> None:
    if Capability.PERSISTENT not in store.capabilities and _process_ends_with_command():
        raise CliError(
            f"The store {label} keeps its data only inside this process, so what this command writes would be "
            "gone when it ends; write to a file or database store such as sqlite:///history.db."
        )


@asynccontextmanager
async def opened(
    target: str | None, *, existing: bool = False, persistent: bool = False, **options: Any
) -> AsyncGenerator[HistoryStore, None]:
    """Open ``target`` (``None``: the selector's choice) and close it afterwards.

    ``existing``: refuse a store that is not there yet (commands that only read or remove).
    ``persistent``: refuse a store whose data would not outlive the command (commands that write, run
    by the console script; ``app`` run in-process may write to a ``memory://NAME`` store it reads later).
    """
    chosen = target if target is not None else resolve_target().target
    label = chosen if target is not None else f"{chosen} (the default store)"
    if existing:
        _require_existing(chosen, label)
    store = open_target(chosen, get_registry(), **options)
    try:
        await open_now(store)  # a missing, damaged or unreachable store is reported before the command starts
        if persistent:
            _require_persistent(store, label)
        yield store
    finally:
        await store.aclose()


def _text(field: str, value: str | None) -> str | None:
    if value is not None and not value:
        raise CliError(f"--{field} must not be empty; leave it out for the anonymous partition.")
    return value


def session_key(session_id: str, user: str | None, chat: str | None) -> SessionKey:
    """A key from command-line values, with errors that name the option."""
    try:
        return SessionKey(session_id, user=_text("user", user), chat=_text("chat", chat))
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def partition(user: str | None, chat: str | None, *, every: bool) -> Partition:
    """The ``list_sessions`` filter for ``--user`` / ``--chat``; ``every`` widens the fields not given."""
    chosen_user: str | AllPartitions | None = _text("user", user)
    chosen_chat: str | AllPartitions | None = _text("chat", chat)
    if every:
        chosen_user = ALL if user is None else chosen_user
        chosen_chat = ALL if chat is None else chosen_chat
    return chosen_user, chosen_chat


async def collect_sessions(store: HistoryStore, where: Partition, *, label: str) -> list[SessionKey]:
    """Every session of a partition, sorted by (user, chat, session id) for stable output."""
    if Capability.LIST_SESSIONS not in store.capabilities:
        raise CliError(
            f"The store {label} cannot list its sessions (its backend lacks the list_sessions capability); "
            "name a session instead."
        )
    keys = [key async for key in store.list_sessions(user=where[0], chat=where[1])]
    return sorted(keys, key=sort_key)


def sort_key(key: SessionKey) -> tuple[bool, str, bool, str, str]:
    """Orders keys by partition (anonymous first), then session id."""
    return (key.user is not None, key.user or "", key.chat is not None, key.chat or "", key.session_id)


def key_json(key: SessionKey) -> dict[str, str | None]:
    """A key as the JSON object every command and the interchange format use."""
    return {"session_id": key.session_id, "user": key.user, "chat": key.chat}
