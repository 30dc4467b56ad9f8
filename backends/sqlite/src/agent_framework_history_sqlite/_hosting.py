"""The hosting SDK's stores in the SQLite file: a response store whose responses are turns, and session records.

A response a host stores (``create_response``) becomes a turn of an ordinary history session in
the same database — the previous response's session, continuing at the previous response's
turn; else the conversation's session (``session_id`` = the conversation id); else a new session
named by the response id — holding the response's input items, then its output items. The
previous response is the envelope's ``previous_response_id`` when it has one, else (the SDK's
hosts leave it out of the stored envelope) the response whose latest turn holds the last id of
the history the host passed: the response that history continues. Outputs an
``update_response`` adds become a turn after it; outputs it changes are rewritten in place. So
``af-history sessions / show / export / migrate`` see what the host stored, in the host's user
partition, as one chain per conversation (forks included).

``af_history_responses`` keeps, per response, the envelope, the ids of its input and output items,
and its history: ``NULL`` plus ``history_len`` when the history the host passed is the end of the
previous response's own chain (what ``get_history_item_ids`` gave it), so no row grows with the
conversation; the list itself otherwise. Before a response's outputs change or it is deleted, the
implied histories of the responses continuing it are written out (pinned), since they end where
its chain ends. Chains of ids are cached per process, keyed by the
response row and its version (each a prefix of a run of ids that the next turn extends in place,
see ``Chain``), so the host's per-turn ``get_history_item_ids`` + ``create_response`` (+
``update_response``) stay flat as a conversation grows; any process writing a response bumps its
version, so the cache never answers for a changed row; a chain a write computes is cached only after
its commit (a rolled-back row id is SQLite's to give again). ``get_history_item_ids`` of a response
whose chain is cached reads only the row's version, on the event loop (``Database.glance``: no trip
to the worker); one write transaction per ``create_response``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from azure.ai.agentserver.responses.store import ResponseAlreadyExistsError
from cachetools import LRUCache

from agent_framework_history.backend import (
    ABSENT,
    Chain,
    CorruptDataError,
    Item,
    NewResponse,
    ResponseRow,
    ResponseStoreBase,
    SessionRecords,
    Version,
    conflict,
    dumps_item,
    loads_item,
)

from ._chains import append_rows, append_turn
from ._config import SQLiteConfig, parse_target
from ._database import Database
from ._schema import AGENT_SESSIONS, ITEMS, NO_PARTITION, RESPONSES, SESSIONS, TURNS

__all__ = ["SQLiteResponseStore", "SQLiteSessionRecords", "open_sqlite_response_store", "open_sqlite_session_records"]

Partition = tuple[str | None, str | None]
_Cached = tuple[tuple[int, int], Chain] | None
"""A chain a write computed, keyed by row and version, to cache once the write has committed."""

CHAIN_CACHE_SIZE: Final = 512
"""Responses whose chain of ids one store keeps in memory (the tips a host continues)."""

_IDS_PER_QUERY: Final = 500

_ROW: Final = (
    f"SELECT id, session, head, first_seq, parent, history, history_len, input_ids, output_ids, envelope, deleted, "
    f"version FROM {RESPONSES} WHERE user = ? AND chat = ? AND response_id = ?"
)
_VERSION: Final = f"SELECT id, version, deleted FROM {RESPONSES} WHERE user = ? AND chat = ? AND response_id = ?"
_ROW_BY_ID: Final = (
    f"SELECT id, session, head, first_seq, parent, history, history_len, input_ids, output_ids, envelope, deleted, "
    f"version FROM {RESPONSES} WHERE id = ?"
)
_SESSION_KEY: Final = f"SELECT user, chat, session_id FROM {SESSIONS} WHERE id = ?"
_TURN_FIRST_SEQ: Final = f"SELECT last_seq FROM {TURNS} WHERE session = ? AND head = ?"
_CONTINUED: Final = (
    f"SELECT r.response_id FROM {ITEMS} AS i JOIN {SESSIONS} AS s ON s.id = i.session "
    f"JOIN {TURNS} AS t ON t.session = i.session AND t.turn = i.turn "
    f"JOIN {RESPONSES} AS r ON r.session = i.session AND r.head = t.head AND r.user = s.user AND r.chat = s.chat "
    "WHERE i.item_id = ? AND s.user = ? AND s.chat = ? ORDER BY i.rowid DESC LIMIT 1"
)


def _columns(partition: Partition) -> tuple[str, str]:
    user, chat = partition
    return (user or NO_PARTITION, chat or NO_PARTITION)


def _ids(text: Any, where: str) -> list[str]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CorruptDataError(f"{where} holds an unreadable id list ({exc}).", location=where) from exc
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):  # pyright: ignore[reportUnknownVariableType]
        raise CorruptDataError(f"{where} holds {type(value).__name__}, not a list of ids.", location=where)  # pyright: ignore[reportUnknownArgumentType]
    return list(value)  # pyright: ignore[reportUnknownArgumentType]


class _Row:
    """One ``af_history_responses`` row, as read on the worker."""

    __slots__ = (
        "deleted",
        "envelope",
        "first_seq",
        "head",
        "history",
        "history_len",
        "id",
        "input_ids",
        "output_ids",
        "parent",
        "session",
        "version",
    )

    def __init__(self, values: Sequence[Any]) -> None:
        (
            self.id,
            self.session,
            self.head,
            self.first_seq,
            self.parent,
            history,
            self.history_len,
            input_ids,
            output_ids,
            self.envelope,
            deleted,
            self.version,
        ) = values
        where = f"{RESPONSES} row {self.id}"
        self.history: list[str] | None = None if history is None else _ids(history, where)
        self.input_ids = _ids(input_ids, where)
        self.output_ids = _ids(output_ids, where)
        self.deleted = bool(deleted)


class _ChainCache:
    """Chains of ids by ``(row id, version)``, least recently used dropped first; safe across threads.

    The worker fills it; the event loop's glance at a row reads it.
    """

    def __init__(self, size: int) -> None:
        self._chains: LRUCache[tuple[int, int], Chain] = LRUCache(size)
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> Chain | None:
        with self._lock:
            return self._chains.get(key)

    def put(self, key: tuple[int, int], chain: Chain) -> None:
        with self._lock:
            self._chains[key] = chain


class SQLiteResponseStore(ResponseStoreBase):
    """``ResponseProviderProtocol`` in a SQLite file, shared by every process that opens it."""

    def __init__(self, config: SQLiteConfig) -> None:
        super().__init__()
        self.config = config
        self._db = Database(config)
        self._chains = _ChainCache(CHAIN_CACHE_SIZE)

    @property
    def path(self) -> Path | None:
        return None if self._db.location is None else Path(self._db.location)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.path!r})"

    # -- on the worker ----------------------------------------------------------------------

    def _row(self, conn: sqlite3.Connection, partition: Partition, response_id: str) -> _Row | None:
        found = conn.execute(_ROW, (*_columns(partition), response_id)).fetchone()
        return None if found is None else _Row(found)

    def _chain(self, conn: sqlite3.Connection, row: _Row) -> Chain:
        """History, input and output ids of ``row`` (cached by row and version)."""
        cached = self._chains.get((row.id, row.version))
        if cached is not None:
            return cached
        pending: list[_Row] = [row]  # rows whose chain waits on their parent's, newest first
        base: Chain
        while pending[-1].history is None and pending[-1].history_len:
            parent_id = pending[-1].parent
            found = None if parent_id is None else conn.execute(_ROW_BY_ID, (parent_id,)).fetchone()
            if found is None:
                raise CorruptDataError(
                    f"Response row {pending[-1].id} takes its history from a response that is gone.",
                    location=f"{RESPONSES} row {pending[-1].id}",
                )
            parent = _Row(found)
            hit = self._chains.get((parent.id, parent.version))
            if hit is not None:
                base = hit
                break
            pending.append(parent)
        else:
            oldest = pending.pop()
            base = Chain.of([*(oldest.history or ()), *oldest.input_ids, *oldest.output_ids])
            self._chains.put((oldest.id, oldest.version), base)
        for current in reversed(pending):
            history = base.tail(current.history_len) if current.history_len else Chain.of(())
            base = history.extend([*current.input_ids, *current.output_ids])
            self._chains.put((current.id, current.version), base)
        return base

    def _response_row(self, conn: sqlite3.Connection, row: _Row, response_id: str) -> ResponseRow:
        chain = self._chain(conn, row)
        inputs, outputs = len(row.input_ids), len(row.output_ids)
        history = chain.ids()[: len(chain) - inputs - outputs]
        envelope = None if row.envelope is None else loads_item(row.envelope)
        return ResponseRow(response_id, envelope, row.deleted, history, list(row.input_ids), list(row.output_ids))

    def _create(self, conn: sqlite3.Connection, partition: Partition, new: NewResponse) -> _Cached:
        user, chat = _columns(partition)
        existing = self._row(conn, partition, new.response_id)
        if existing is not None and not existing.deleted:
            raise ResponseAlreadyExistsError(new.response_id)
        previous_id = new.previous_response_id
        if previous_id is None and new.history_ids:
            found = conn.execute(_CONTINUED, (new.history_ids[-1], user, chat)).fetchone()
            previous_id = None if found is None else found[0]
        previous = None if previous_id is None else self._row(conn, partition, previous_id)
        # Where the items go: after the previous response's turn, else in the conversation, else a new session.
        session: int | None = None
        head: str | None = None
        key_partition = (user, chat, new.conversation_id or new.response_id)
        if previous is not None and previous.session is not None:
            session, head = previous.session, previous.head
        # The history: implied when it is the end of the previous response's chain, else kept as given.
        implied = not new.history_ids
        parent_id = None
        base: Chain | None = None
        if previous is not None and not previous.deleted:
            parent_id = previous.id
            if not implied:
                chain = self._chain(conn, previous)
                # The usual case, cheaply: the host passed the previous response's whole chain.
                implied = chain is new.history_of or chain.ends_with(new.history_ids)
                base = chain.tail(len(new.history_ids)) if implied else None
        turn = _unique_rows([*new.inputs, *new.outputs])
        first_seq = None
        if turn:
            appended = append_rows(conn, key_partition, session, turn, head)
            session = appended.session
            head = appended.head if appended.head is not None else head
            first_seq = appended.first_seq
        elif session is None:
            found_session = conn.execute(
                f"SELECT id FROM {SESSIONS} WHERE user = ? AND chat = ? AND session_id = ?", key_partition
            ).fetchone()
            session = None if found_session is None else found_session[0]
        input_ids = [i["id"] for i in new.inputs]
        output_ids = [i["id"] for i in new.outputs]
        values = (
            session,
            head,
            first_seq,
            parent_id,
            None if implied else json.dumps(new.history_ids),
            len(new.history_ids),
            json.dumps(input_ids),
            json.dumps(output_ids),
            dumps_item(new.envelope),
            new.conversation_id,
        )
        if existing is None:
            row_id = conn.execute(
                f"INSERT INTO {RESPONSES} (session, head, first_seq, parent, history, history_len, input_ids, "
                "output_ids, envelope, conversation, user, chat, response_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, user, chat, new.response_id),
            ).lastrowid
            version = 1
        else:  # the SDK's stores let a deleted response's id be created again
            conn.execute(
                f"UPDATE {RESPONSES} SET session = ?, head = ?, first_seq = ?, parent = ?, history = ?, "
                "history_len = ?, input_ids = ?, output_ids = ?, envelope = ?, conversation = ?, deleted = 0, "
                "version = version + 1 WHERE id = ?",
                (*values, existing.id),
            )
            row_id, version = existing.id, existing.version + 1
        if row_id is None:  # pragma: no cover - an INSERT always gives the row id
            return None
        # What the host reads next: this response's chain, cached once the transaction commits.
        history = base if base is not None else Chain.of(new.history_ids)
        return (row_id, version), history.extend([*input_ids, *output_ids])

    def _update(
        self, conn: sqlite3.Connection, partition: Partition, response_id: str, envelope: Item, outputs: list[Item]
    ) -> tuple[bool, _Cached]:
        row = self._row(conn, partition, response_id)
        if row is None or row.deleted:
            return False, None
        new_ids = [item["id"] for item in outputs]
        if new_ids != row.output_ids:
            self._pin_children(conn, row)  # their implied history is the end of this response's chain as it was
        head, first_seq = row.head, row.first_seq
        known = set(row.output_ids) | set(row.input_ids)
        if row.session is not None:
            changed = [
                (dumps_item(item), row.session, item["id"], first_seq or 0) for item in outputs if item["id"] in known
            ]
            conn.executemany(f"UPDATE {ITEMS} SET item = ? WHERE session = ? AND item_id = ? AND seq >= ?", changed)
        fresh = _unique_rows([item for item in outputs if item["id"] not in known])
        if fresh:
            user, chat = _columns(partition)
            if row.session is None:
                key_partition = (user, chat, response_id)
            else:
                found = conn.execute(_SESSION_KEY, (row.session,)).fetchone()
                key_partition = (found[0], found[1], found[2])
            result = append_turn(conn, key_partition, fresh, head)
            if result.stored and result.head is not None:
                head = result.head
                if first_seq is None:
                    session = conn.execute(
                        f"SELECT id FROM {SESSIONS} WHERE user = ? AND chat = ? AND session_id = ?", key_partition
                    ).fetchone()
                    (last_seq,) = conn.execute(_TURN_FIRST_SEQ, (session[0], head)).fetchone()
                    first_seq = last_seq - result.stored + 1
                    conn.execute(f"UPDATE {RESPONSES} SET session = ? WHERE id = ?", (session[0], row.id))
        conn.execute(
            f"UPDATE {RESPONSES} SET envelope = ?, output_ids = ?, head = ?, first_seq = ?, version = version + 1 "
            "WHERE id = ?",
            (dumps_item(envelope), json.dumps(new_ids), head, first_seq, row.id),
        )
        before = self._chains.get((row.id, row.version))
        if before is None:
            return True, None
        # The host completes each response it created: the next turn reads this chain (once committed).
        kept = Chain(before.run, len(before) - len(row.output_ids))  # history and inputs: a prefix of the run
        return True, ((row.id, row.version + 1), kept.extend(new_ids))

    def _pin_children(self, conn: sqlite3.Connection, row: _Row) -> None:
        """Write out the implied history of the responses continuing ``row`` before ``row`` changes."""
        children = conn.execute(
            f"SELECT id FROM {RESPONSES} WHERE parent = ? AND history IS NULL AND history_len > 0", (row.id,)
        ).fetchall()
        for (child_id,) in children:
            child = _Row(conn.execute(_ROW_BY_ID, (child_id,)).fetchone())
            chain = self._chain(conn, child)
            history = chain.ids()[: len(chain) - len(child.input_ids) - len(child.output_ids)]
            conn.execute(
                f"UPDATE {RESPONSES} SET history = ?, version = version + 1 WHERE id = ?",
                (json.dumps(history), child.id),
            )

    def _delete(self, conn: sqlite3.Connection, partition: Partition, response_id: str) -> bool:
        row = self._row(conn, partition, response_id)
        if row is None or row.deleted:
            return False
        self._pin_children(conn, row)
        conn.execute(
            f"UPDATE {RESPONSES} SET deleted = 1, envelope = NULL, version = version + 1 WHERE id = ?", (row.id,)
        )
        return True

    def _items(self, conn: sqlite3.Connection, partition: Partition, ids: Sequence[str]) -> list[Item | None]:
        user, chat = _columns(partition)
        latest: dict[str, str] = {}
        wanted = list(dict.fromkeys(ids))
        for first in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[first : first + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT i.item_id, i.item FROM {ITEMS} AS i JOIN {SESSIONS} AS s ON s.id = i.session "
                f"WHERE i.item_id IN ({marks}) AND s.user = ? AND s.chat = ? ORDER BY i.rowid",
                (*chunk, user, chat),
            ).fetchall()
            for item_id, text in rows:
                latest[item_id] = text
        return [None if item_id not in latest else loads_item(latest[item_id]) for item_id in ids]

    # -- the primitives ---------------------------------------------------------------------

    def _remember(self, cached: _Cached) -> None:
        """Cache a chain a write made, after its commit: a rolled-back row id is SQLite's to give again."""
        if cached is not None:
            self._chains.put(*cached)

    async def _do_create(self, partition: Partition, new: NewResponse) -> None:
        self._remember(await self._db.write(lambda conn: self._create(conn, partition, new)))

    async def _do_row(self, partition: Partition, response_id: str) -> ResponseRow | None:
        def read(conn: sqlite3.Connection) -> ResponseRow | None:
            row = self._row(conn, partition, response_id)
            return None if row is None else self._response_row(conn, row, response_id)

        return await self._db.read(read)

    async def _do_chain(self, partition: Partition, response_id: str) -> Chain | None:
        columns = (*_columns(partition), response_id)

        def glance(conn: sqlite3.Connection) -> tuple[Chain | None] | None:
            """The answer from the row's version and this process's cache, or ``None`` to ask the worker."""
            found = conn.execute(_VERSION, columns).fetchone()
            if found is None or found[2]:
                return (None,)
            cached = self._chains.get((found[0], found[1]))
            return None if cached is None else (cached,)

        known = self._db.glance(glance)  # the host's every turn: no trip to the worker
        if known is not None:
            return known[0]

        def read(conn: sqlite3.Connection) -> Chain | None:
            found = conn.execute(_VERSION, (*_columns(partition), response_id)).fetchone()
            if found is None or found[2]:
                return None
            cached = self._chains.get((found[0], found[1]))
            if cached is None:
                row = self._row(conn, partition, response_id)
                if row is None:
                    return None
                cached = self._chain(conn, row)
            return cached

        return await self._db.read(read)

    async def _do_update(self, partition: Partition, response_id: str, envelope: Item, outputs: list[Item]) -> bool:
        found, cached = await self._db.write(lambda conn: self._update(conn, partition, response_id, envelope, outputs))
        self._remember(cached)
        return found

    async def _do_delete(self, partition: Partition, response_id: str) -> bool:
        return await self._db.write(lambda conn: self._delete(conn, partition, response_id))

    async def _do_items(self, partition: Partition, item_ids: Sequence[str]) -> list[Item | None]:
        return await self._db.read(lambda conn: self._items(conn, partition, item_ids))

    async def _do_conversation(self, partition: Partition, conversation_id: str) -> list[ResponseRow]:
        def read(conn: sqlite3.Connection) -> list[ResponseRow]:
            found = conn.execute(
                f"SELECT response_id FROM {RESPONSES} WHERE user = ? AND chat = ? AND conversation = ? ORDER BY id",
                (*_columns(partition), conversation_id),
            ).fetchall()
            rows: list[ResponseRow] = []
            for (response_id,) in found:
                row = self._row(conn, partition, response_id)
                if row is not None:
                    rows.append(self._response_row(conn, row, response_id))
            return rows

        return await self._db.read(read)

    async def _do_close(self) -> None:
        await self._db.close()


def _unique_rows(items: Sequence[Item]) -> list[tuple[str, str]]:
    """``(id, text)`` rows for a turn, each id once (the last copy, as the SDK's item store keeps)."""
    rows: dict[str, str] = {}
    for item in items:
        rows.pop(item["id"], None)
        rows[item["id"]] = dumps_item(item)
    return list(rows.items())


class SQLiteSessionRecords(SessionRecords):
    """Versioned agent-session records in the SQLite file (``af_history_agent_sessions``)."""

    def __init__(self, config: SQLiteConfig) -> None:
        self.config = config
        self._db = Database(config)

    async def read(self, scope: str, record_id: str) -> tuple[dict[str, Any], Version] | None:
        def read(conn: sqlite3.Connection) -> tuple[str, int] | None:
            found: tuple[str, int] | None = conn.execute(
                f"SELECT value, version FROM {AGENT_SESSIONS} WHERE scope = ? AND record_id = ?", (scope, record_id)
            ).fetchone()
            return found

        found = await self._db.read(read)
        if found is None:
            return None
        return loads_item(found[0]), found[1]

    async def write(self, scope: str, record_id: str, value: dict[str, Any], expected: Version | None) -> Version:
        text = dumps_item(value)

        def write(conn: sqlite3.Connection) -> Version:
            found = conn.execute(
                f"SELECT version FROM {AGENT_SESSIONS} WHERE scope = ? AND record_id = ?", (scope, record_id)
            ).fetchone()
            current = ABSENT if found is None else int(found[0])
            if expected is not None and expected != current:
                raise conflict(scope, record_id, expected)
            conn.execute(
                f"INSERT INTO {AGENT_SESSIONS} (scope, record_id, value, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope, record_id) DO UPDATE SET value = excluded.value, version = excluded.version, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (scope, record_id, text, current + 1),
            )
            return current + 1

        return await self._db.write(write)

    async def remove(self, scope: str, record_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(f"DELETE FROM {AGENT_SESSIONS} WHERE scope = ? AND record_id = ?", (scope, record_id))
            return cursor.rowcount > 0

        return await self._db.write(remove)

    async def aclose(self) -> None:
        await self._db.close()


def open_sqlite_response_store(target: str = "sqlite://", /, **options: Any) -> SQLiteResponseStore:
    """A response store in the database a ``sqlite://`` URL names (the same rules as the history store)."""
    return SQLiteResponseStore(parse_target(target, options))


def open_sqlite_session_records(target: str = "sqlite://", /, **options: Any) -> SQLiteSessionRecords:
    """Agent-session records in the database a ``sqlite://`` URL names."""
    return SQLiteSessionRecords(parse_target(target, options))
