"""The hosting SDK's stores in PostgreSQL: a response store whose responses are turns, and session records.

A response a host stores (``create_response``) becomes a turn of an ordinary history session in
the same schema — the previous response's session, continuing at the previous response's turn;
else the conversation's session (``session_id`` = the conversation id); else a new session named
by the response id — holding the response's input items, then its output items. The previous
response is the envelope's ``previous_response_id``, else (the SDK's hosts leave it out of the
stored envelope) the response whose latest turn holds the last id of the history the host passed
(``Names.continued_response``). Outputs an
``update_response`` adds become a turn after it; outputs it changes are rewritten in place. So
``af-history sessions / show / export`` see what the host stored, in the host's user partition
(``user_id_key=""`` is the chat ``~empty-user``), as one chain per conversation, forks included.

``<p>responses`` keeps, per response, the envelope, the ids of its input and output items, and
its history: ``NULL`` plus ``history_len`` when the history the host passed is the end of the
previous response's own chain (what ``get_history_item_ids`` gave it), so no row grows with the
conversation; the list itself otherwise. Before a response's outputs change, or it is deleted,
the implied histories of the responses continuing it are written out (*pinned*), so what a
continuation read stays what it read. Chains of ids are cached per process, keyed by the row and
its version; every write bumps the version, so the cache never answers for a changed row. A
response's chain extends its previous response's in place (``Chain``), and completing a response
(``update_response``) extends the cached chain too, so a host's turn costs the ids it adds.

Round trips: ``create_response`` is one call of ``<p>create_response`` (its items appended by the
same function the history store uses, in the same transaction); a second one only when this
process had not read the previous response (or another process changed it in between).
``get_history_item_ids`` / ``get_response`` / ``get_input_items`` read one row (with its parent's
version) — one round trip when the chain of the row or of its parent is cached, which it is on a
host's turn-by-turn path; a cold process walks the row's ancestors with one recursive query more.
``update_response`` is one call of ``<p>update_response`` unless it has continuations to pin.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
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

from ._config import PostgresSettings, parse_settings
from ._errors import UnstorableItemError
from ._schema import Names
from ._store import MAX_INDEXED_BYTES, PostgresHistoryStore
from ._types import Connection

__all__ = [
    "CHAIN_CACHE_SIZE",
    "PostgresResponseStore",
    "PostgresSessionRecords",
    "open_postgres_response_store",
    "open_postgres_session_records",
]

Partition = tuple[str | None, str | None]

CHAIN_CACHE_SIZE: Final = 512
"""Responses whose chain of ids one store keeps in memory (the tips a host continues)."""

_CREATE_ATTEMPTS: Final = 3
"""Calls of the create function at most: the last one gives the history explicitly, which never goes stale."""

_COLUMNS: Final = (
    "r.id, r.response_id, r.version, r.parent, {parent_version} AS parent_version, r.history, r.history_len,"
    " r.input_ids, r.output_ids, {envelope} AS envelope, r.deleted, r.token"
)


def _columns(partition: Partition) -> tuple[str, str]:
    user, chat = partition
    return ("" if user is None else user, "" if chat is None else chat)


def _new_token() -> str:
    return uuid.uuid4().hex


def _new_head() -> str:
    return f"turn_{uuid.uuid4().hex}"


def _check_id(value: str, what: str) -> None:
    if "\x00" in value:
        raise UnstorableItemError(f"{what} {value[:40]!r} holds a NUL character, which PostgreSQL text cannot hold.")
    size = len(value.encode())
    if size > MAX_INDEXED_BYTES:
        raise UnstorableItemError(
            f"{what} {value[:40]!r}… is {size} bytes long in UTF-8; the postgres backend indexes at most"
            f" {MAX_INDEXED_BYTES}. Use a shorter id. Nothing was stored."
        )


@dataclass(frozen=True, slots=True)
class _Row:
    """One ``<p>responses`` row as read (``envelope`` only for rows asked for, not for ancestors)."""

    id: int
    response_id: str
    version: int
    parent: int | None
    parent_version: int | None
    history: tuple[str, ...] | None
    history_len: int
    input_ids: tuple[str, ...]
    output_ids: tuple[str, ...]
    envelope: str | None
    deleted: bool
    token: str | None

    @classmethod
    def of(cls, record: asyncpg.Record) -> _Row:
        history = record["history"]
        return cls(
            id=int(record["id"]),
            response_id=str(record["response_id"]),
            version=int(record["version"]),
            parent=None if record["parent"] is None else int(record["parent"]),
            parent_version=None if record["parent_version"] is None else int(record["parent_version"]),
            history=None if history is None else tuple(history),
            history_len=int(record["history_len"]),
            input_ids=tuple(record["input_ids"]),
            output_ids=tuple(record["output_ids"]),
            envelope=record["envelope"],
            deleted=bool(record["deleted"]),
            token=record["token"],
        )

    @property
    def key(self) -> tuple[int, int]:
        return (self.id, self.version)

    @property
    def self_contained(self) -> bool:
        """Whether the chain needs no parent: the history is kept, or there is none."""
        return self.history is not None or self.history_len == 0


def _unique_rows(items: Sequence[Item]) -> tuple[list[str], list[str]]:
    """Ids and texts for a turn, each id once (the last copy, as the SDK's item store keeps)."""
    rows: dict[str, str] = {}
    for item in items:
        rows.pop(item["id"], None)
        rows[item["id"]] = dumps_item(item)
    return list(rows), list(rows.values())


class PostgresResponseStore(ResponseStoreBase):
    """``ResponseProviderProtocol`` in PostgreSQL, shared by every replica that opens the same schema.

    It uses its own connection pool (opened on first use, inside the running event loop, which
    also creates or upgrades the tables), with the history store's retry rule: a connection lost
    during an operation is retried once on a fresh connection. A retried ``create_response`` or
    ``delete_response`` whose first attempt committed is recognised by its token, not reported as
    a conflict.
    """

    def __init__(self, settings: PostgresSettings) -> None:
        super().__init__()
        self._store = PostgresHistoryStore(settings)
        self._chains: LRUCache[tuple[int, int], Chain] = LRUCache(CHAIN_CACHE_SIZE)
        self._outputs: LRUCache[tuple[int, int], int] = LRUCache(CHAIN_CACHE_SIZE)
        """How many of the cached chain's ids are the response's outputs (the end ``update_response`` replaces)."""
        self._seen: LRUCache[tuple[str, str, str], tuple[int, int]] = LRUCache(CHAIN_CACHE_SIZE)
        """The ``(row id, version)`` last read or written of each ``(user, chat, response id)``."""
        self._tips: LRUCache[tuple[str, str, str], str] = LRUCache(CHAIN_CACHE_SIZE)
        """``(user, chat, last id of a chain)`` -> the response whose chain it ended, as last read or written."""
        n = self._names = self._store.names
        row_columns = _COLUMNS.format(parent_version="p.version", envelope="r.envelope::text")
        self._row_sql = (
            f"SELECT {row_columns} FROM {n.responses} r LEFT JOIN {n.responses} p ON p.id = r.parent"
            " WHERE r.user_id = $1 AND r.chat_id = $2 AND r.response_id = $3"
        )
        self._lock_sql = self._row_sql + " FOR UPDATE OF r"
        chain_columns = _COLUMNS.format(parent_version="p.version", envelope="NULL::text")
        self._chain_sql = (  # the row without its envelope: what get_history_item_ids needs
            f"SELECT {chain_columns} FROM {n.responses} r LEFT JOIN {n.responses} p ON p.id = r.parent"
            " WHERE r.user_id = $1 AND r.chat_id = $2 AND r.response_id = $3"
        )
        self._conversation_sql = (
            f"SELECT {row_columns} FROM {n.responses} r LEFT JOIN {n.responses} p ON p.id = r.parent"
            " WHERE r.user_id = $1 AND r.chat_id = $2 AND r.conversation = $3 ORDER BY r.id"
        )
        # The rows asked for and every ancestor their implied histories lean on, in one query.
        # UNION (not ALL) drops a row reached twice, so even a cycle could not loop.
        self._ancestors_sql = (
            "WITH RECURSIVE anc AS (\n"
            f"  SELECT {_COLUMNS.format(parent_version='NULL::bigint', envelope='r.envelope::text')}\n"
            f"  FROM {n.responses} r WHERE r.id = ANY($1::bigint[])\n"
            "  UNION\n"
            f"  SELECT {_COLUMNS.format(parent_version='NULL::bigint', envelope='NULL::text')}\n"
            f"  FROM anc JOIN {n.responses} r ON r.id = anc.parent\n"
            "  WHERE anc.history IS NULL AND anc.history_len > 0\n"
            ") SELECT * FROM anc"
        )
        self._children_sql = (
            f"SELECT id, history_len FROM {n.responses}"
            " WHERE parent = $1 AND history IS NULL AND history_len > 0 AND NOT deleted ORDER BY id FOR UPDATE"
        )
        self._pin_sql = (
            f"UPDATE {n.responses} SET history = $2, version = version + 1, updated_at = now() WHERE id = $1"
        )
        self._delete_sql = (
            f"UPDATE {n.responses} SET deleted = true, envelope = NULL, token = $2, version = version + 1,"
            " updated_at = now() WHERE id = $1"
        )
        self._create_sql = (
            "SELECT o_status, o_id, o_version, o_parent, o_parent_version FROM "
            f"{n.create_response_routine}($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10, $11::text[], $12::text[],"
            " $13, $14, $15, $16::text[], $17::text[])"
        )
        self._continued_sql = n.continued_response("$1", "$2", "$3")
        self._update_sql = (
            "SELECT o_status, o_id, o_version FROM "
            f"{n.update_response_routine}($1, $2, $3, $4, $5::text[], $6, $7::text[], $8::text[])"
        )
        self._items_sql = (
            f"SELECT DISTINCT ON (i.item_id) i.item_id, i.body::text AS body FROM {n.items} i"
            f" JOIN {n.sessions} s ON s.id = i.session_ref"
            " WHERE i.item_id = ANY($1::text[]) AND s.user_id = $2 AND s.chat_id = $3"
            " ORDER BY i.item_id, i.created_at DESC, i.session_ref DESC, i.seq DESC"
        )

    def __repr__(self) -> str:
        s = self._store.settings
        return f"{type(self).__name__}({s.redacted_dsn!r}, schema={s.schema!r}, table_prefix={s.table_prefix!r})"

    @property
    def settings(self) -> PostgresSettings:
        return self._store.settings

    @property
    def names(self) -> Names:
        """The qualified names of this store's tables."""
        return self._names

    async def connect(self) -> None:
        """Open the pool and create or migrate the tables now rather than on first use."""
        self._check_open("connect")
        await self._store.connect()

    # -- chains -----------------------------------------------------------------------------

    def _compose(self, row: _Row, parent_chain: Chain) -> Chain:
        history = Chain.of(row.history) if row.history is not None else parent_chain.tail(row.history_len)
        chain = history.extend([*row.input_ids, *row.output_ids])
        self._remember(row.key, chain, len(row.output_ids))
        return chain

    def _remember(self, key: tuple[int, int], chain: Chain, outputs: int) -> None:
        self._chains[key] = chain
        self._outputs[key] = outputs

    def _known_chain(self, row: _Row) -> Chain | None:
        """The chain of ``row`` without a query (cached, self-contained, or from its parent's cached chain)."""
        if row.deleted:  # nothing reads a deleted response's chain (its continuations were pinned)
            return Chain.of(())
        cached = self._chains.get(row.key)
        if cached is not None:
            return cached
        if row.self_contained:
            return self._compose(row, Chain.of(()))
        if row.parent is not None and row.parent_version is not None:
            parent = self._chains.get((row.parent, row.parent_version))
            if parent is not None:
                return self._compose(row, parent)
        return None

    def _walk(self, row: _Row, rows: dict[int, _Row]) -> Chain:
        """The chain of ``row`` from its ancestors in ``rows`` (stopping at the first cached one)."""
        pending: list[_Row] = []
        current = row
        while True:
            cached = self._chains.get(current.key)
            if cached is not None:
                base = cached
                break
            if current.self_contained:
                base = self._compose(current, Chain.of(()))
                break
            pending.append(current)
            parent = None if current.parent is None else rows.get(current.parent)
            if parent is None or len(pending) > len(rows):
                where = f"{self._names.responses} row {current.id}"
                raise CorruptDataError(
                    f"Response {current.response_id!r} ({where}) takes its history from a response that is gone.",
                    location=where,
                )
            current = parent
        for waiting in reversed(pending):
            base = self._compose(waiting, base)
        return base

    async def _resolve(self, conn: Connection, rows: list[_Row]) -> list[tuple[_Row, Chain]]:
        """Each row with its chain; rows whose chain needs their ancestors are read again with them."""
        chains = [self._known_chain(row) for row in rows]
        missing = [row.id for row, chain in zip(rows, chains, strict=True) if chain is None]
        if not missing:
            return [(row, chain) for row, chain in zip(rows, chains, strict=True) if chain is not None]
        fetched: dict[int, _Row] = {}
        for record in await conn.fetch(self._ancestors_sql, missing):
            found = _Row.of(record)
            if found.id not in fetched or found.envelope is not None:
                fetched[found.id] = found
        resolved: list[tuple[_Row, Chain]] = []
        for row, chain in zip(rows, chains, strict=True):
            if chain is not None:
                resolved.append((row, chain))
                continue
            fresh = fetched.get(row.id, row)  # read again with its ancestors (gone since: as first read)
            resolved.append((fresh, self._walk(fresh, fetched)))
        return resolved

    async def _read(
        self, conn: Connection, user: str, chat: str, response_id: str, *, envelope: bool = True
    ) -> tuple[_Row, Chain] | None:
        record = await conn.fetchrow(self._row_sql if envelope else self._chain_sql, user, chat, response_id)
        if record is None:
            return None
        [(row, chain)] = await self._resolve(conn, [_Row.of(record)])
        self._seen[(user, chat, response_id)] = row.key
        last = chain.last
        if last is not None and not row.deleted:
            self._tips[(user, chat, last)] = response_id
        return row, chain

    def _response_row(self, row: _Row, chain: Chain) -> ResponseRow:
        if row.deleted:
            return ResponseRow(row.response_id, None, True)
        inputs, outputs = len(row.input_ids), len(row.output_ids)
        history = chain.ids()[: len(chain) - inputs - outputs]
        envelope = None
        if row.envelope is not None:
            try:
                envelope = loads_item(row.envelope)
            except ValueError as exc:
                where = f"{self._names.responses} row {row.id}"
                raise CorruptDataError(f"The envelope in {where} is not a JSON object: {exc}", location=where) from exc
        return ResponseRow(row.response_id, envelope, row.deleted, history, list(row.input_ids), list(row.output_ids))

    async def _pin_children(self, conn: Connection, row: _Row) -> None:
        """Write out the implied history of the responses continuing ``row`` (locked) before it changes."""
        children = await conn.fetch(self._children_sql, row.id)
        if not children:
            return
        [(_, chain)] = await self._resolve(conn, [row])
        await conn.executemany(
            self._pin_sql, [(child["id"], chain.tail(int(child["history_len"])).ids()) for child in children]
        )

    # -- the primitives ---------------------------------------------------------------------

    async def _do_create(self, partition: Partition, new: NewResponse) -> None:
        user, chat = _columns(partition)
        _check_id(user + chat + new.response_id, "the user, chat and response id together")
        if new.conversation_id is not None:
            _check_id(new.conversation_id, "the conversation id")
        for item in (*new.inputs, *new.outputs):
            _check_id(item["id"], "item id")
        ids, bodies = _unique_rows([*new.inputs, *new.outputs])
        input_ids = [item["id"] for item in new.inputs]
        output_ids = [item["id"] for item in new.outputs]
        history = new.history_ids
        previous = new.previous_response_id
        # The SDK's hosts leave previous_response_id out of the envelope: the history's last id tells.
        last_id = history[-1] if previous is None and history else None
        envelope = dumps_item(new.envelope)
        # Made here so that a retry after a lost reply is recognised (the same token, the same head).
        token, head = _new_token(), _new_head()

        async def previous_of(conn: Connection, refresh: bool) -> str | None:
            """The previous response: named, else the one the history continues (as this process last saw it)."""
            if previous is not None or last_id is None:
                return previous
            guess = None if refresh else self._tips.get((user, chat, last_id))
            if guess is not None:
                return guess
            found: str | None = await conn.fetchval(self._continued_sql, last_id, user, chat)
            return found

        async def implied_by(conn: Connection, refresh: bool) -> tuple[int, int] | None:
            """The previous response's row and version when ``history`` is the end of its chain, else ``None``."""
            if not history:
                return None
            previous_id = await previous_of(conn, refresh)
            if previous_id is None:
                return None
            key = (user, chat, previous_id)
            seen = None if refresh else self._seen.get(key)
            chain = None if seen is None else self._chains.get(seen)
            if seen is None or chain is None:
                found = await self._read(conn, *key, envelope=False)
                if found is None or found[0].deleted:
                    return None
                seen, chain = found[0].key, found[1]
            return seen if chain is new.history_of or chain.ends_with(history) else None

        async def create(conn: Connection) -> None:
            for attempt in range(_CREATE_ATTEMPTS):
                last = attempt == _CREATE_ATTEMPTS - 1
                parent = None if last else await implied_by(conn, refresh=attempt > 0)
                implied = parent is not None
                try:
                    record = await conn.fetchrow(
                        self._create_sql,
                        user,
                        chat,
                        new.response_id,
                        previous,
                        last_id,
                        new.conversation_id,
                        None if parent is None else parent[0],
                        None if parent is None else parent[1],
                        None if implied or not history else list(history),
                        len(history),
                        input_ids,
                        output_ids,
                        envelope,
                        token,
                        head,
                        ids,
                        bodies,
                    )
                except asyncpg.UniqueViolationError as exc:
                    if not str(exc.constraint_name or "").endswith("responses_key"):
                        raise
                    raise ResponseAlreadyExistsError(new.response_id) from exc  # another replica created it first
                assert record is not None  # the function returns one row
                status = record["o_status"]
                if status == "exists":
                    raise ResponseAlreadyExistsError(new.response_id)
                if status == "stale":  # the previous response changed since this process read it
                    continue
                if status == "ok":
                    key = (int(record["o_id"]), int(record["o_version"]))
                    parent_key = (
                        None if record["o_parent"] is None else (record["o_parent"], record["o_parent_version"])
                    )
                    parent_chain = None if parent_key is None else self._chains.get(parent_key)
                    chain: Chain | None = None
                    if not implied:
                        chain = Chain.of(history).extend([*input_ids, *output_ids])
                    elif parent_chain is not None:
                        chain = parent_chain.tail(len(history)).extend([*input_ids, *output_ids])
                    if chain is not None:
                        self._remember(key, chain, len(output_ids))
                        if chain.last is not None:
                            self._tips[(user, chat, chain.last)] = new.response_id
                    self._seen[(user, chat, new.response_id)] = key
                return  # "done": the retry of this very call, whose first attempt committed
            raise AssertionError("unreachable: the last attempt gives the history explicitly")  # pragma: no cover

        await self._store._with_connection("create_response", create)

    async def _do_row(self, partition: Partition, response_id: str) -> ResponseRow | None:
        user, chat = _columns(partition)

        async def read(conn: Connection) -> ResponseRow | None:
            found = await self._read(conn, user, chat, response_id)
            return None if found is None else self._response_row(*found)

        return await self._store._with_connection("reading a response", read)

    async def _do_chain(self, partition: Partition, response_id: str) -> Chain | None:
        user, chat = _columns(partition)

        async def read(conn: Connection) -> Chain | None:
            found = await self._read(conn, user, chat, response_id, envelope=False)
            return None if found is None or found[0].deleted else found[1]

        return await self._store._with_connection("reading a response's chain", read)

    async def _do_update(self, partition: Partition, response_id: str, envelope: Item, outputs: list[Item]) -> bool:
        user, chat = _columns(partition)
        for item in outputs:
            _check_id(item["id"], "item id")
        ids, bodies = _unique_rows(outputs)
        output_ids = [i["id"] for i in outputs]
        args = (user, chat, response_id, dumps_item(envelope), output_ids, _new_head(), ids, bodies)

        async def update(conn: Connection) -> bool:
            record = await conn.fetchrow(self._update_sql, *args)
            assert record is not None  # the function returns one row
            if record["o_status"] == "pin":
                async with conn.transaction():
                    locked = await conn.fetchrow(self._lock_sql, user, chat, response_id)
                    if locked is None:
                        return False
                    await self._pin_children(conn, _Row.of(locked))
                    record = await conn.fetchrow(self._update_sql, *args)
                    assert record is not None
            if record["o_status"] != "ok":
                return False
            key = (int(record["o_id"]), int(record["o_version"]))
            before = (key[0], key[1] - 1)
            seen = self._seen.get((user, chat, response_id))
            chain, outputs = self._chains.get(before), self._outputs.get(before)
            if seen == before and chain is not None and outputs is not None:
                # The version this process knew was the one this call replaced: its chain, new outputs.
                kept = Chain(chain.run, len(chain) - outputs)
                after = kept.extend(output_ids)
                self._remember(key, after, len(output_ids))
                if after.last is not None:
                    self._tips[(user, chat, after.last)] = response_id
            self._seen[(user, chat, response_id)] = key
            return True

        return await self._store._with_connection("update_response", update)

    async def _do_delete(self, partition: Partition, response_id: str) -> bool:
        user, chat = _columns(partition)
        token = _new_token()

        async def delete(conn: Connection) -> bool:
            async with conn.transaction():
                record = await conn.fetchrow(self._lock_sql, user, chat, response_id)
                if record is None:
                    return False
                row = _Row.of(record)
                if row.deleted:
                    return row.token == token  # the retry of this call, whose first attempt committed
                await self._pin_children(conn, row)
                await conn.execute(self._delete_sql, row.id, token)
                return True

        return await self._store._with_connection("delete_response", delete)

    async def _do_items(self, partition: Partition, item_ids: Sequence[str]) -> list[Item | None]:
        user, chat = _columns(partition)
        wanted = list(dict.fromkeys(item_ids))

        async def read(conn: Connection) -> list[asyncpg.Record]:
            return await conn.fetch(self._items_sql, wanted, user, chat)

        latest: dict[str, str] = {
            r["item_id"]: r["body"] for r in await self._store._with_connection("get_items", read)
        }
        return [None if item_id not in latest else loads_item(latest[item_id]) for item_id in item_ids]

    async def _do_conversation(self, partition: Partition, conversation_id: str) -> list[ResponseRow]:
        user, chat = _columns(partition)

        async def read(conn: Connection) -> list[ResponseRow]:
            records = await conn.fetch(self._conversation_sql, user, chat, conversation_id)
            resolved = await self._resolve(conn, [_Row.of(r) for r in records])
            return [self._response_row(row, chain) for row, chain in resolved]

        return await self._store._with_connection("reading a conversation", read)

    async def _do_close(self) -> None:
        await self._store.aclose()


class PostgresSessionRecords(SessionRecords):
    """Versioned agent-session records in PostgreSQL (``<p>agent_sessions``).

    Every conditional write is one compare-and-set statement, so of concurrent writers based on
    the same version — in any process, on any machine — exactly one wins and the others get
    ``SessionConflictError``. A write retried after a lost reply is recognised by its token.
    """

    def __init__(self, settings: PostgresSettings) -> None:
        self._store = PostgresHistoryStore(settings)
        table = self._store.names.agent_sessions
        self._read_sql = f"SELECT value::text AS value, version FROM {table} WHERE scope = $1 AND record_id = $2"
        self._token_sql = f"SELECT version FROM {table} WHERE scope = $1 AND record_id = $2 AND token = $3"
        self._put_sql = (
            f"INSERT INTO {table} AS t (scope, record_id, value, version, token) VALUES ($1, $2, $3::json, 1, $4)"
            " ON CONFLICT (scope, record_id) DO UPDATE SET value = excluded.value, version = t.version + 1,"
            " token = excluded.token, updated_at = now() RETURNING t.version"
        )
        self._create_sql = (
            f"INSERT INTO {table} (scope, record_id, value, version, token) VALUES ($1, $2, $3::json, 1, $4)"
            " ON CONFLICT (scope, record_id) DO NOTHING RETURNING version"
        )
        self._replace_sql = (
            f"UPDATE {table} SET value = $3::json, version = version + 1, token = $4, updated_at = now()"
            " WHERE scope = $1 AND record_id = $2 AND version = $5 RETURNING version"
        )
        self._remove_sql = f"DELETE FROM {table} WHERE scope = $1 AND record_id = $2 RETURNING 1"

    def __repr__(self) -> str:
        s = self._store.settings
        return f"{type(self).__name__}({s.redacted_dsn!r}, schema={s.schema!r}, table_prefix={s.table_prefix!r})"

    @property
    def settings(self) -> PostgresSettings:
        return self._store.settings

    async def read(self, scope: str, record_id: str) -> tuple[dict[str, Any], Version] | None:
        async def read(conn: Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(self._read_sql, scope, record_id)

        found = await self._store._with_connection("reading an agent session", read)
        if found is None:
            return None
        try:
            value = loads_item(found["value"])
        except ValueError as exc:
            where = f"{self._store.names.agent_sessions} ({scope!r}, {record_id!r})"
            raise CorruptDataError(f"The agent session {where} is not a JSON object: {exc}", location=where) from exc
        return value, int(found["version"])

    async def write(self, scope: str, record_id: str, value: dict[str, Any], expected: Version | None) -> Version:
        for what, text in (("scope", scope), ("session id", record_id)):
            _check_id(text, f"the agent session {what}")
        body = dumps_item(value)
        token = _new_token()

        async def write(conn: Connection) -> Version | None:
            if expected is None:
                version = await conn.fetchval(self._put_sql, scope, record_id, body, token)
            elif expected == ABSENT:
                version = await conn.fetchval(self._create_sql, scope, record_id, body, token)
            else:
                version = await conn.fetchval(self._replace_sql, scope, record_id, body, token, expected)
            if version is None:  # lost the race, or this is the retry of a write that went through
                version = await conn.fetchval(self._token_sql, scope, record_id, token)
            return None if version is None else int(version)

        version = await self._store._with_connection("writing an agent session", write)
        if version is None:
            raise conflict(scope, record_id, expected)
        return version

    async def remove(self, scope: str, record_id: str) -> bool:
        async def remove(conn: Connection) -> bool:
            return await conn.fetchval(self._remove_sql, scope, record_id) is not None

        return await self._store._with_connection("removing an agent session", remove)

    async def aclose(self) -> None:
        await self._store.aclose()


def open_postgres_response_store(target: str, /, **options: Any) -> PostgresResponseStore:
    """A response store in the schema a ``postgresql://`` URL names (the history store's URL and options)."""
    return PostgresResponseStore(parse_settings(target, **options))


def open_postgres_session_records(target: str, /, **options: Any) -> PostgresSessionRecords:
    """Agent-session records in the schema a ``postgresql://`` URL names (the history store's URL and options)."""
    return PostgresSessionRecords(parse_settings(target, **options))
