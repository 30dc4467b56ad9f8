"""``JsonFileHistoryStore``: the whole store in one JSON file, rewritten atomically on every change."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from agent_framework_history.backend import (
    AllPartitions,
    AppendResult,
    Capability,
    ConfigurationError,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    SessionKey,
    StoreTarget,
    clone_item,
    parse_target,
)

__all__ = ["JsonFileHistoryStore", "jsonfile_store_from_target", "open_jsonfile_store"]


class JsonFileHistoryStore(HistoryStoreBase):
    """Histories in one JSON file: ``{"sessions": [{"session_id", "user", "chat", "items": [...]}]}``.

    The base class validates keys, limits and items, copies items and de-duplicates each batch;
    this class only keeps the data, skips ids a session already holds and writes the file.
    One process at a time: there is no file lock.
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LIST_SESSIONS, Capability.DELETE, Capability.PERSISTENT, Capability.CONCURRENT_APPEND}
    )

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._lock = asyncio.Lock()
        self._sessions: dict[SessionKey, list[Item]] | None = None

    def _read(self) -> dict[SessionKey, list[Item]]:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise CorruptDataError(f"{self.path} is not valid JSON: {exc}", location=str(self.path)) from exc
        try:
            return {
                SessionKey(s["session_id"], user=s["user"], chat=s["chat"]): list(s["items"]) for s in data["sessions"]
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptDataError(f"{self.path} is not a jsonfile store: {exc!r}", location=str(self.path)) from exc

    def _write(self, sessions: dict[SessionKey, list[Item]]) -> None:
        payload = {
            "sessions": [
                {"session_id": key.session_id, "user": key.user, "chat": key.chat, "items": items}
                for key, items in sessions.items()
            ]
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(payload, out, ensure_ascii=False)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def _data(self) -> dict[SessionKey, list[Item]]:
        if self._sessions is None:
            self._sessions = await asyncio.to_thread(self._read)
        return self._sessions

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        async with self._lock:
            sessions = await self._data()
            stored = sessions.get(key, [])
            known = {item["id"] for item in stored}
            fresh = [item for item in items if item["id"] not in known]
            if fresh:
                updated = {**sessions, key: [*stored, *fresh]}
                await asyncio.to_thread(self._write, updated)  # the file first: nothing changes if it fails
                self._sessions = updated
            return AppendResult(stored=len(fresh))

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        async with self._lock:
            items = (await self._data()).get(key, [])
            chosen = items if limit is None else items[-limit:]
            return [clone_item(item) for item in chosen]

    async def _do_delete(self, key: SessionKey) -> bool:
        async with self._lock:
            sessions = await self._data()
            if key not in sessions:
                return False
            remaining = {k: v for k, v in sessions.items() if k != key}
            await asyncio.to_thread(self._write, remaining)
            self._sessions = remaining
            return True

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        async with self._lock:
            keys = [key for key, items in (await self._data()).items() if items and key.matches(user, chat)]
        for key in keys:
            yield key

    async def _do_close(self) -> None:
        self._sessions = None


def jsonfile_store_from_target(target: StoreTarget) -> JsonFileHistoryStore:
    """The store a parsed ``jsonfile://`` target names (the core parsed the URL and merged the options)."""
    if target.scheme != "jsonfile":
        raise ConfigurationError(f"Not a jsonfile:// URL: {target.url!r}.")
    if target.query or target.fragment:
        raise ConfigurationError(f"jsonfile:// URLs take no query or fragment: {target.url!r}.")
    target.refuse_unknown((), "jsonfile")
    path = unquote(target.location)
    if not path:
        raise ConfigurationError(
            f"{target.url!r} names no file; write jsonfile:///absolute/history.json or jsonfile://./history.json."
        )
    return JsonFileHistoryStore(path)


def open_jsonfile_store(target: str = "jsonfile://", /, **options: Any) -> JsonFileHistoryStore:
    """Open ``jsonfile:///absolute/file.json`` or ``jsonfile://./relative/file.json``."""
    return jsonfile_store_from_target(parse_target(target, **options))
