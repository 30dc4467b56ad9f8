"""Histories in PostgreSQL, shared by every replica that opens the same database and schema.

A session is a chain of turns (:attr:`Capability.CHAIN_HEAD`). Every append that stores at
least one new item records a turn row whose ``head`` (``turn_`` + 32 random hex digits) it
returns; the turn's parent is the head it was given, or the session's latest turn for
``head=None``. Turns form branches: a branch is a linear run of turns, continued by an append
at its latest turn; an append at an earlier turn starts a new branch. Items carry their
branch and a per-session ``seq``, so the chain ending at a head is a few ``(branch, upto)``
segments (one per fork in its ancestry) found by one recursive query; see ``_schema`` for
the layout and the append function.

Round trips: an append is one statement (one call of the append function, its own
transaction); a load is one statement, whether at the tip, at an earlier turn or across
forks. ``load(limit=N)`` reads at most ``N`` rows per segment, backwards along the primary
key, whatever the size of the session. A head this session does not know (another
session's, a deleted session's, or a string this store never made) names an empty chain:
``load`` returns ``[]`` and ``append`` starts a new root chain, with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final, TypeVar

import asyncpg

from agent_framework_history.backend import (
    AllPartitions,
    AppendResult,
    Capability,
    ChainTail,
    ConfigurationError,
    CorruptDataError,
    HistoryStoreBase,
    HistoryStoreError,
    Item,
    SessionActivity,
    SessionKey,
    StoreClosedError,
    dumps_item,
    loads_item,
)

from ._activity import delete_idle_sql
from ._batch import Batcher
from ._config import PostgresSettings, parse_settings
from ._errors import PostgresServerError, PostgresUnavailableError, UnstorableItemError, is_connection_loss
from ._migrate import ensure_schema
from ._schema import Names
from ._types import Connection

__all__ = ["MAX_INDEXED_BYTES", "PostgresHistoryStore", "open_postgres_store"]

logger = logging.getLogger("agent_framework_history.postgres")

T = TypeVar("T")

_ANONYMOUS: Final = ""
"""How ``None`` is stored in the ``user_id`` / ``chat_id`` columns (``SessionKey`` forbids ``''``)."""


def _column(value: str | None) -> str:
    return _ANONYMOUS if value is None else value


def _key_columns(key: SessionKey) -> tuple[str, str, str]:
    return _column(key.user), _column(key.chat), key.session_id


MAX_INDEXED_BYTES: Final = 2600
"""Most UTF-8 bytes of an item id, or of a key's user + chat + session id together.

A b-tree index entry holds at most about 2,700 bytes (a third of a page); the unique indexes
on ``(session_ref, item_id)`` and ``(user_id, chat_id, session_id)`` must fit.
"""


APPEND_BATCH_MOST: Final = 64
"""Appends sent in one statement at most, when more wait for a connection (see ``_batch``)."""

_AppendArgs = tuple[str, str, str, bool, str | None, str, list[str], list[str]]
"""The append function's arguments: user, chat, session, latest, head, new head, ids, bodies."""
_Appended = tuple[int, str | None, bool]
"""The append function's results: items stored, the head, whether the head given was known."""

_HEAD_FORM: Final = re.compile(r"turn_[0-9a-f]{32}")
"""The form of every head this backend makes; any other string names no turn."""

_MAX_BIGINT: Final = 2**63 - 1
"""A ``load`` limit above this (PostgreSQL's ``bigint``) is longer than any chain: it means all."""


def _new_head() -> str:
    return f"turn_{uuid.uuid4().hex}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_storable(key: SessionKey, ids: list[str]) -> None:
    size = sum(len(part.encode()) for part in _key_columns(key))
    if size > MAX_INDEXED_BYTES:
        raise UnstorableItemError(
            f"{key!r:.120} is {size} bytes long in UTF-8 (user + chat + session id); the postgres backend"
            f" indexes at most {MAX_INDEXED_BYTES}. Use shorter ids (a hash of a long one, for example)."
        )
    for index, item_id in enumerate(ids):
        size = len(item_id.encode())
        if size > MAX_INDEXED_BYTES:
            raise UnstorableItemError(
                f"items[{index}] has an id of {size} bytes in UTF-8 ({item_id[:40]!r}…); the postgres backend"
                f" indexes at most {MAX_INDEXED_BYTES}. Use a shorter id. Nothing was stored."
            )


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Pool reset hook: nothing to undo.

    asyncpg rolls back an open transaction on release by itself; this store sets no session
    state (no ``SET``, ``LISTEN``, cursors or session advisory locks), so the default reset
    query (one more round trip on every release) has nothing to do.
    """


class PostgresHistoryStore(HistoryStoreBase):
    """Keeps histories in PostgreSQL through an asyncpg connection pool.

    Nothing connects until the first operation (or :meth:`connect`): then, inside the running
    event loop, the pool opens and the tables are created or migrated. One store belongs to
    one event loop; open one per loop.

    Appends to one session take turns on the session's row lock, so the order (``seq``) is
    exact across processes and machines with no clock involved; a turn's items are numbered
    one after another in one transaction, and a reader sees whole turns only. A connection
    lost during an operation is retried once on a fresh connection; appending again is safe
    because the retry carries the same new head (a turn already recorded under it is reported,
    not appended again) and ids already in the chain are skipped. Server errors other than a
    lost connection are raised as :class:`PostgresServerError`.
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_SESSIONS,
            Capability.DELETE,
            Capability.CHAIN_HEAD,
            Capability.LOAD_AFTER,
            Capability.PERSISTENT,
            Capability.CONCURRENT_APPEND,
            Capability.MULTI_PROCESS,
            Capability.ACTIVITY,
        }
    )
    LIST_PAGE_SIZE: ClassVar[int] = 500
    """Sessions ``list_sessions`` fetches per query."""

    def __init__(self, settings: PostgresSettings) -> None:
        super().__init__()
        self._settings = settings
        self._names = names = Names(settings.schema, settings.table_prefix)
        self._load_sql: dict[tuple[bool, bool], str] = {
            (latest, limited): names.load_latest(latest=latest) if limited else names.load_all(latest=latest)
            for latest in (False, True)
            for limited in (False, True)
        }
        self._load_after_sql = {latest: names.load_after(latest=latest) for latest in (False, True)}
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()
        self._batcher: Batcher[_AppendArgs, _Appended] = Batcher(
            self._append_one,
            self._append_many,
            limit=settings.pool_max_size,
            most=APPEND_BATCH_MOST,
            order=lambda args: args[:3],
        )
        self._in_append_hook: Callable[[Connection], Awaitable[None]] | None = None
        """Testing aid: when set, the append runs in an explicit transaction and this is awaited
        after the append statement, before the commit."""

    def __repr__(self) -> str:
        s = self._settings
        return f"PostgresHistoryStore({s.redacted_dsn!r}, schema={s.schema!r}, table_prefix={s.table_prefix!r})"

    @property
    def settings(self) -> PostgresSettings:
        return self._settings

    @property
    def names(self) -> Names:
        """The qualified names of this store's tables."""
        return self._names

    # -- the pool ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the pool and create or migrate the tables now rather than on first use (as :meth:`open` does)."""
        self._check_open("connect")
        await self._get_pool()

    async def _do_open(self) -> None:
        await self._get_pool()

    async def _get_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        if self._loop is not None and self._loop is not loop:
            raise HistoryStoreError(
                f"{self!r} was opened in another event loop; asyncpg connections belong to one loop, "
                "so open one store per event loop."
            )
        async with self._opening:
            if self._pool is None:
                pool = await self._create_pool()
                try:
                    await self._migrate(pool)
                    self._check_open("connect")  # closed while we connected
                except BaseException:
                    pool.terminate()
                    raise
                self._pool, self._loop = pool, loop
            return self._pool

    async def _create_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        s = self._settings
        try:
            return await asyncpg.create_pool(
                s.dsn,
                min_size=s.pool_min_size,
                max_size=s.pool_max_size,
                timeout=s.connect_timeout,
                command_timeout=s.command_timeout,
                max_inactive_connection_lifetime=s.max_inactive_connection_lifetime,
                statement_cache_size=s.statement_cache_size,
                reset=_keep_session,
            )
        except ValueError as exc:  # asyncpg's ClientConfigurationError is one too
            raise ConfigurationError(
                f"asyncpg rejects the PostgreSQL URL {s.redacted_dsn}: {_one_line(exc)}. Fix the URL or its query"
                " parameters."
            ) from exc
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise PostgresUnavailableError(
                f"Cannot connect to PostgreSQL at {s.redacted_dsn}: {_one_line(exc)}. "
                "Check that the server runs and that the URL's host, port, user, password and database are right."
            ) from exc

    async def _migrate(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        names = self._names

        async def migrate(conn: Connection) -> int:
            return await ensure_schema(conn, names)

        await self._with_connection("opening the store", migrate, pool)

    async def _with_connection(
        self,
        what: str,
        operation: Callable[[Connection], Awaitable[T]],
        pool: asyncpg.Pool[asyncpg.Record] | None = None,
    ) -> T:
        """Run ``operation`` on a pooled connection; once more on a fresh one if the connection breaks."""
        if pool is None:
            pool = await self._get_pool()
        timeout = self._settings.acquire_timeout
        for attempt in (1, 2):
            try:
                # With a connection idle, acquiring cannot wait for a release: no timeout to arm (asyncpg
                # wraps a timed acquire in a task of its own, about 40 µs of every call).
                conn: Connection = await pool.acquire(timeout=None if pool.get_idle_size() else timeout)
            except TimeoutError as exc:
                raise PostgresUnavailableError(
                    f"No pooled PostgreSQL connection came free within {timeout} s for {what}; all"
                    f" {self._settings.pool_max_size} are busy. Raise pool_max_size or acquire_timeout."
                ) from exc
            except Exception as exc:
                if self.closed:
                    raise StoreClosedError(f"{self!r} was closed while {what} waited for a connection.") from exc
                if is_connection_loss(exc) and attempt == 1:
                    logger.warning("Connecting to PostgreSQL for %s failed (%s); trying once more.", what, exc)
                    continue
                raise PostgresUnavailableError(
                    f"Cannot get a connection to PostgreSQL at {self._settings.redacted_dsn} for {what}:"
                    f" {type(exc).__name__}: {exc}. Nothing was written."
                ) from exc
            try:
                return await operation(conn)
            except Exception as exc:
                if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError)) and not is_connection_loss(exc):
                    raise self._refused(what, exc) from exc
                if not is_connection_loss(exc) or self.closed:
                    raise
                if attempt == 2:
                    raise self._unavailable(what, exc) from exc
                logger.warning("The PostgreSQL connection broke during %s (%s); retrying once.", what, exc)
            finally:
                await self._release(pool, conn)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _release(pool: asyncpg.Pool[asyncpg.Record], conn: Connection) -> None:
        """Hand ``conn`` back; a connection that cannot be reset is closed by asyncpg, which is all we want."""
        try:
            await pool.release(conn)
        except Exception as exc:
            logger.debug("Releasing a broken PostgreSQL connection failed (%s); asyncpg closed it.", exc)

    def _refused(self, what: str, exc: asyncpg.PostgresError | asyncpg.InterfaceError) -> HistoryStoreError:
        """The store's own error for a server (or driver) error that is not a lost connection."""
        names, s = self._names, self._settings
        code: str | None = getattr(exc, "sqlstate", None)
        where = f"schema {names.schema!r} (table prefix {names.prefix!r}) at {s.redacted_dsn}"
        if isinstance(exc, asyncpg.InsufficientPrivilegeError):
            message = (
                f"The PostgreSQL role lacks a privilege for {what} in {where}: {_one_line(exc)}. Grant it USAGE on"
                " the schema, SELECT, INSERT, UPDATE, DELETE on the tables and EXECUTE on the append function, or"
                " CREATE to create or migrate them (or migrate once with the owner role)."
            )
            if what == "opening the store":
                return ConfigurationError(message)
            return PostgresServerError(message, sqlstate=code)
        if isinstance(
            exc, (asyncpg.UndefinedTableError, asyncpg.UndefinedFunctionError, asyncpg.InvalidSchemaNameError)
        ):
            return PostgresServerError(
                f"The history tables in {where} are missing or incomplete during {what} (dropped while the store"
                f" was open?): {_one_line(exc)}. Open a new store to create them again.",
                sqlstate=code,
            )
        if isinstance(exc, asyncpg.QueryCanceledError):
            return PostgresServerError(
                f"PostgreSQL cancelled {what} in {where} ({_one_line(exc)}): a statement timeout, or an"
                " administrator. Nothing of it was written; try again, or raise the server's statement_timeout.",
                sqlstate=code,
            )
        return PostgresServerError(
            f"PostgreSQL refused {what} in {where}: {_one_line(exc)}"
            + (f" (SQLSTATE {code})" if code else "")
            + ". Nothing of it was written.",
            sqlstate=code,
        )

    def _unavailable(self, what: str, exc: BaseException) -> PostgresUnavailableError:
        return PostgresUnavailableError(
            f"Lost the connection to PostgreSQL at {self._settings.redacted_dsn} during {what}, and again on the"
            f" retry ({type(exc).__name__}: {exc}). Each append is one transaction, so none was half-written;"
            " appending the same items again is safe (stored ids are skipped)."
        )

    # -- operations -------------------------------------------------------------------------

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        user, chat, session = _key_columns(key)
        ids = [item["id"] for item in items]
        _check_storable(key, ids)
        bodies = [dumps_item(item) for item in items]
        # A head of a form this store never makes names no turn: it is not even sent.
        lookup = head if head is not None and _HEAD_FORM.fullmatch(head) else None
        # Made here, not on the server, so that a retry after a lost reply finds the turn its
        # first attempt committed (the function reports it instead of appending again).
        args: _AppendArgs = (user, chat, session, head is None, lookup, _new_head(), ids, bodies)
        stored, new_head, known = await (
            self._append_one(args) if self._in_append_hook is not None else self._batcher.run(args)
        )
        if head is not None and not known:
            logger.warning(
                "append(head=%r) to %r: the session has no such turn (another session's head, a deleted"
                " session's, or not a head this store made); the turn starts a new chain.",
                head[:80],
                key,
            )
        return AppendResult(stored=stored, head=new_head)

    async def _append_one(self, args: _AppendArgs) -> _Appended:
        """One append, one statement (its own transaction): one round trip."""
        sql = self._names.append

        async def append(conn: Connection) -> asyncpg.Record | None:
            hook = self._in_append_hook
            if hook is None:
                return await conn.fetchrow(sql, *args)
            async with conn.transaction():
                row = await conn.fetchrow(sql, *args)
                await hook(conn)
            return row

        row = await self._with_connection("append", append)
        if row is None:  # pragma: no cover - the function always returns one row
            raise PostgresServerError(f"The append function of {self._names.items} returned no row.")
        return int(row["o_stored"]), row["o_head"], bool(row["o_known"])

    async def _append_many(self, batch: Sequence[_AppendArgs]) -> list[_Appended]:
        """Several appends, one statement (one transaction): their results in the same order."""
        columns: list[list[Any]] = [[args[n] for args in batch] for n in range(6)]
        counts = [len(args[6]) for args in batch]
        ids = [item_id for args in batch for item_id in args[6]]
        bodies = [body for args in batch for body in args[7]]
        sql = self._names.append_batch

        async def append(conn: Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(sql, *columns, counts, ids, bodies)

        row = await self._with_connection("append", append)
        if row is None:  # pragma: no cover - the function always returns one row
            raise PostgresServerError(f"The batch append function of {self._names.items} returned no row.")
        return [
            (int(stored), head, bool(known))
            for stored, head, known in zip(row["o_stored"], row["o_head"], row["o_known"], strict=True)
        ]

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        if head is not None and not _HEAD_FORM.fullmatch(head):
            logger.debug("load(head=%r) of %r: not a head this store makes; the chain is empty.", head[:80], key)
            return []
        if limit is not None and limit > _MAX_BIGINT:
            limit = None  # longer than any chain can be
        args: list[object] = list(_key_columns(key))
        if head is not None:
            args.append(head)
        if limit is not None:
            args.append(limit)
        sql = self._load_sql[(head is None, limit is not None)]

        async def load(conn: Connection) -> list[asyncpg.Record]:
            return await conn.fetch(sql, *args)

        rows = await self._with_connection("load", load)
        if limit is not None:
            rows.reverse()
        return [self._decode(key, row) for row in rows]

    def _decode(self, key: SessionKey, row: asyncpg.Record) -> Item:
        try:
            return loads_item(row["body"])
        except ValueError as exc:
            raise CorruptDataError(
                f"An item of {key!r} in {self._names.items} is not a JSON object: {exc}",
                location=f"{self._names.items} seq {row['seq']}",
            ) from exc

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        if head is not None and not _HEAD_FORM.fullmatch(head):
            return ChainTail(items=[], head=None, continues=False)
        args: list[object] = [*_key_columns(key), after if after is not None and _HEAD_FORM.fullmatch(after) else None]
        if head is not None:
            args.append(head)
        sql = self._load_after_sql[head is None]

        async def load(conn: Connection) -> list[asyncpg.Record]:
            return await conn.fetch(sql, *args)

        rows = await self._with_connection("load_after", load)
        tip: str | None = rows[0]["tip"] if rows else None
        if tip is None:
            return ChainTail(items=[], head=None, continues=False)
        items = [self._decode(key, row) for row in rows if row["seq"] is not None]
        return ChainTail(items=items, head=tip, continues=rows[0]["since"] is not None)

    async def _do_delete(self, key: SessionKey) -> bool:
        sql = self._names.delete_session
        columns = _key_columns(key)

        async def delete(conn: Connection) -> bool:
            return bool(await conn.fetchval(sql, *columns))

        return await self._with_connection("delete", delete)

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        async for row in self._session_rows("list_sessions", user, chat):
            yield SessionKey(row["session_id"], user=row["user_id"] or None, chat=row["chat_id"] or None)

    async def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        async for row in self._session_rows("list_activity", user, chat):
            key = SessionKey(row["session_id"], user=row["user_id"] or None, chat=row["chat_id"] or None)
            yield SessionActivity(key, row["updated_at"])

    async def _session_rows(
        self, operation: str, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[asyncpg.Record]:
        """The partition's sessions (key and last append), keyset-paged by key, one page per round trip."""
        filters = [_column(v) for v in (user, chat) if not isinstance(v, AllPartitions)]
        sql = self._names.list_sessions(
            by_user=not isinstance(user, AllPartitions), by_chat=not isinstance(chat, AllPartitions)
        )
        size = self.LIST_PAGE_SIZE

        def page_after(cursor: tuple[str, str, str]) -> Callable[[Connection], Awaitable[list[asyncpg.Record]]]:
            async def page(conn: Connection) -> list[asyncpg.Record]:
                return await conn.fetch(sql, *cursor, size, *filters)

            return page

        cursor = ("", "", "")
        while True:
            rows = await self._with_connection(operation, page_after(cursor))
            for row in rows:
                yield row
            if len(rows) < size:
                return
            cursor = (rows[-1]["user_id"], rows[-1]["chat_id"], rows[-1]["session_id"])

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        sql = delete_idle_sql(self._names)
        columns = _key_columns(key)

        async def delete(conn: Connection) -> bool:
            return await conn.fetchval(sql, *columns, before) is not None

        return await self._with_connection("prune", delete)

    async def _do_close(self) -> None:
        await self._batcher.aclose(
            lambda: StoreClosedError(f"{self!r} was closed while this append waited for a connection; not stored.")
        )
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._loop is not asyncio.get_running_loop():
            # The pool's loop is elsewhere (maybe closed): close the sockets without awaiting.
            with contextlib.suppress(RuntimeError):
                pool.terminate()
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=self._settings.connect_timeout)
        except Exception as exc:
            logger.warning("Closing the PostgreSQL pool did not finish cleanly (%s); terminating it.", exc)
            pool.terminate()


def open_postgres_store(target: str, /, **options: Any) -> PostgresHistoryStore:
    """Open ``postgresql://user:password@host:5432/database?schema=...`` (nothing connects yet).

    Options (keyword or URL query parameter): ``schema``, ``table_prefix``, ``pool_min_size``,
    ``pool_max_size``, ``connect_timeout``, ``command_timeout``, ``acquire_timeout``,
    ``max_inactive_connection_lifetime``, ``statement_cache_size``; see :class:`PostgresSettings`.
    """
    return PostgresHistoryStore(parse_settings(target, **options))
