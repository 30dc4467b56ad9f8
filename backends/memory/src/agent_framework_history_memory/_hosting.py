"""The hosting SDK's stores in memory: a response store whose responses are turns, and session records.

Both share their data by name with ``memory://NAME`` history stores in the same process: the
responses a host stored through ``open_response_store("memory://x")`` are sessions of
``open_store("memory://x")``. For tests and local experiments; nothing outlives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from azure.ai.agentserver.responses.store import ResponseAlreadyExistsError

from agent_framework_history.backend import (
    ABSENT,
    Item,
    NewResponse,
    ResponseRow,
    ResponseStoreBase,
    SessionKey,
    SessionRecords,
    StoreTarget,
    Version,
    clone_item,
    conflict,
    parse_target,
)

from ._store import MemoryHistoryStore, memory_name

__all__ = ["MemoryResponseStore", "MemorySessionRecords", "open_memory_response_store", "open_memory_session_records"]

Partition = tuple[str | None, str | None]


@dataclass
class _Response:
    key: SessionKey
    head: str | None
    envelope: Item | None
    history_ids: list[str]
    input_ids: list[str]
    output_ids: list[str]
    deleted: bool = False

    def row(self, response_id: str) -> ResponseRow:
        return ResponseRow(
            response_id,
            None if self.envelope is None else clone_item(self.envelope),
            self.deleted,
            list(self.history_ids),
            list(self.input_ids),
            list(self.output_ids),
        )


@dataclass
class _Responses:
    lock: threading.Lock = field(default_factory=threading.Lock)
    responses: dict[tuple[Partition, str], _Response] = field(default_factory=lambda: {})
    items: dict[tuple[Partition, str], Item] = field(default_factory=lambda: {})
    conversations: dict[tuple[Partition, str], list[str]] = field(default_factory=lambda: {})
    owners: dict[tuple[Partition, str], str] = field(default_factory=lambda: {})
    """The response that last stored each item id: whom a history ending with that id continues."""


@dataclass
class _Records:
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: dict[tuple[str, str], tuple[dict[str, Any], Version]] = field(default_factory=lambda: {})


_NAMED_RESPONSES: Final[dict[str, _Responses]] = {}
_NAMED_RECORDS: Final[dict[str, _Records]] = {}
_NAMED_LOCK: Final = threading.Lock()


class MemoryResponseStore(ResponseStoreBase):
    """``ResponseProviderProtocol`` in memory; each response is a turn of a ``memory://`` session."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name
        self._history = MemoryHistoryStore(name)
        if name is None:
            self._data = _Responses()
        else:
            with _NAMED_LOCK:
                self._data = _NAMED_RESPONSES.setdefault(name, _Responses())

    @property
    def history(self) -> MemoryHistoryStore:
        """The history store the responses are turns of."""
        return self._history

    async def _do_create(self, partition: Partition, new: NewResponse) -> None:
        user, chat = partition
        with self._data.lock:
            existing = self._data.responses.get((partition, new.response_id))
            if existing is not None and not existing.deleted:
                raise ResponseAlreadyExistsError(new.response_id)
            previous_id = new.previous_response_id
            if previous_id is None and new.history_ids:  # the SDK's hosts leave it out of the envelope
                previous_id = self._data.owners.get((partition, new.history_ids[-1]))
            previous = None if previous_id is None else self._data.responses.get((partition, previous_id))
        if previous is not None and not previous.deleted:
            key, head = previous.key, previous.head
        elif new.conversation_id is not None:
            key, head = SessionKey(new.conversation_id, user=user, chat=chat), None
        else:
            key, head = SessionKey(new.response_id, user=user, chat=chat), None
        turn = [*new.inputs, *new.outputs]
        result = await self._history.append(key, turn, head=head) if turn else None
        with self._data.lock:
            for item in turn:
                self._data.items[(partition, item["id"])] = clone_item(item)
                self._data.owners[(partition, item["id"])] = new.response_id
            self._data.responses[(partition, new.response_id)] = _Response(
                key=key,
                head=result.head if result is not None else head,
                envelope=new.envelope,
                history_ids=list(new.history_ids),
                input_ids=[i["id"] for i in new.inputs],
                output_ids=[i["id"] for i in new.outputs],
            )
            if new.conversation_id is not None:
                self._data.conversations.setdefault((partition, new.conversation_id), []).append(new.response_id)

    async def _do_row(self, partition: Partition, response_id: str) -> ResponseRow | None:
        with self._data.lock:
            found = self._data.responses.get((partition, response_id))
            return None if found is None else found.row(response_id)

    async def _do_update(self, partition: Partition, response_id: str, envelope: Item, outputs: list[Item]) -> bool:
        with self._data.lock:
            found = self._data.responses.get((partition, response_id))
            if found is None or found.deleted:
                return False
            fresh = [item for item in outputs if item["id"] not in set(found.output_ids)]
            key, head = found.key, found.head
        result = await self._history.append(key, fresh, head=head) if fresh else None
        with self._data.lock:
            for item in outputs:
                self._data.items[(partition, item["id"])] = clone_item(item)
                self._data.owners[(partition, item["id"])] = response_id
            found.envelope = envelope
            found.output_ids = [i["id"] for i in outputs]
            if result is not None and result.head is not None:
                found.head = result.head
        return True

    async def _do_delete(self, partition: Partition, response_id: str) -> bool:
        with self._data.lock:
            found = self._data.responses.get((partition, response_id))
            if found is None or found.deleted:
                return False
            found.deleted = True
            found.envelope = None
            return True

    async def _do_items(self, partition: Partition, item_ids: Sequence[str]) -> list[Item | None]:
        with self._data.lock:
            found = [self._data.items.get((partition, item_id)) for item_id in item_ids]
        return [None if item is None else clone_item(item) for item in found]

    async def _do_conversation(self, partition: Partition, conversation_id: str) -> list[ResponseRow]:
        with self._data.lock:
            ids = list(self._data.conversations.get((partition, conversation_id), []))
            return [self._data.responses[(partition, rid)].row(rid) for rid in ids]

    async def _do_close(self) -> None:
        await self._history.aclose()


class MemorySessionRecords(SessionRecords):
    """Versioned agent-session records in memory (shared by name in this process)."""

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            self._data = _Records()
        else:
            with _NAMED_LOCK:
                self._data = _NAMED_RECORDS.setdefault(name, _Records())

    async def read(self, scope: str, record_id: str) -> tuple[dict[str, Any], Version] | None:
        with self._data.lock:
            found = self._data.records.get((scope, record_id))
            return None if found is None else (clone_item(found[0]), found[1])

    async def write(self, scope: str, record_id: str, value: dict[str, Any], expected: Version | None) -> Version:
        with self._data.lock:
            found = self._data.records.get((scope, record_id))
            current = ABSENT if found is None else found[1]
            if expected is not None and expected != current:
                raise conflict(scope, record_id, expected)
            version = current + 1
            self._data.records[(scope, record_id)] = (clone_item(value), version)
            return version

    async def remove(self, scope: str, record_id: str) -> bool:
        with self._data.lock:
            return self._data.records.pop((scope, record_id), None) is not None


def open_memory_response_store(target: str = "memory://", /, **options: Any) -> MemoryResponseStore:
    """A response store on ``memory://`` (private) or ``memory://NAME`` (shared by name)."""
    return MemoryResponseStore(memory_name(parse_target(target, **options)))


def open_memory_session_records(target: str = "memory://", /, **options: Any) -> MemorySessionRecords:
    """Session records on ``memory://`` (private) or ``memory://NAME`` (shared by name)."""
    return MemorySessionRecords(memory_name(parse_target(target, **options)))


def memory_response_store_from_target(target: StoreTarget) -> MemoryResponseStore:
    """The response store a parsed ``memory://`` target names (what the plugin builds)."""
    return MemoryResponseStore(memory_name(target))


def memory_session_records_from_target(target: StoreTarget) -> MemorySessionRecords:
    """The session records a parsed ``memory://`` target names (what the plugin builds)."""
    return MemorySessionRecords(memory_name(target))
