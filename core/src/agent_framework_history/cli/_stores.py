"""Opening the store a command names (or the selector's choice) and walking its sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .._keys import ALL, AllPartitions, SessionKey
from .._selector import open_store, resolve_target
from .._store import Capability, HistoryStore
from ._errors import CliError

__all__ = [
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


def describe_target(target: str | None) -> str:
    """The URL a command works on: ``target`` itself, or what the selector would choose."""
    if target is not None:
        return target
    return resolve_target().target


@asynccontextmanager
async def opened(target: str | None, **options: Any) -> AsyncIterator[HistoryStore]:
    """Open ``target`` (``None``: the selector's choice) and close it afterwards."""
    store = open_store(target, **options)
    try:
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
