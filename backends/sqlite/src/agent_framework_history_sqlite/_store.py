"""``SQLiteHistoryStore``: histories in one SQLite database file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final

from agent_framework_history.backend import (
    ALL,
    AllPartitions,
    AppendResult,
    Capability,
    ChainTail,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    SessionActivity,
    SessionKey,
    dumps_item,
    loads_item,
    loads_items,
)

from ._activity import delete_idle, list_activity
from ._chains import Partition, append_turn, load_after_texts, load_chain, load_texts
from ._config import DEFAULT_BUSY_TIMEOUT, MEMORY, Mode, SQLiteConfig, Synchronous, parse_target
from ._database import Database
from ._schema import ITEMS, NO_PARTITION, SESSIONS

__all__ = ["SQLiteHistoryStore", "open_sqlite_store"]

_DELETE_SESSION: Final = f"DELETE FROM {SESSIONS} WHERE user = ? AND chat = ? AND session_id = ?"

_PERSISTENT_ONLY: Final = frozenset({Capability.PERSISTENT, Capability.MULTI_PROCESS})

GLANCE_MOST: Final = 100
"""The most items a load reads on the event loop (``Database.glance``) rather than on the worker.

A ``load(limit=...)`` of at most this many, or a ``load_after`` of a turn followed by at most this
many items, is a few index probes and rows: the trip to the worker and back would cost more than
the read. Larger reads, and any read SQLite cannot answer at once, go to the worker."""


def _partition(key: SessionKey) -> Partition:
    """The ``(user, chat, session_id)`` columns of a key; ``None`` is stored as ``''``."""
    return (key.user or NO_PARTITION, key.chat or NO_PARTITION, key.session_id)


class SQLiteHistoryStore(HistoryStoreBase):
    """Keeps histories in a SQLite database, safe for many tasks, threads and processes at once.

    ``path`` is a file (created with its parent directories when missing) or ``":memory:"``
    for a private in-memory database. Building the store does no I/O: the file is opened
    (checked, set up, its schema migrated) on the store's worker thread by the first call, or
    by ``await store.open()`` / ``async with store``, which raise the errors of a bad file
    there; the event loop never waits for it. A file this process cannot write, or
    ``mode="ro"``, is opened read-only (see :attr:`read_only`): loading and listing work,
    ``append`` and ``delete`` raise :class:`ReadOnlyDatabaseError`.

    >>> store = SQLiteHistoryStore(":memory:")
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
    """Sessions ``list_sessions`` reads per query."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        synchronous: Synchronous = "normal",
        mode: Mode = "rw",
    ) -> None:
        super().__init__()
        self.config = SQLiteConfig(str(path), busy_timeout=busy_timeout, synchronous=synchronous, mode=mode)
        self._db = Database(self.config)

    @classmethod
    def from_config(cls, config: SQLiteConfig) -> SQLiteHistoryStore:
        return cls(config.path, busy_timeout=config.busy_timeout, synchronous=config.synchronous, mode=config.mode)

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.config.in_memory:
            return self.CAPABILITIES - _PERSISTENT_ONLY
        return self.CAPABILITIES

    @property
    def path(self) -> Path | None:
        """The database file (absolute), or ``None`` for an in-memory database."""
        return None if self._db.location is None else Path(self._db.location)

    @property
    def read_only(self) -> str | None:
        """Why the store is read-only (``mode="ro"``, a file or directory it cannot write), else ``None``.

        Known once the store is open (after ``await store.open()`` or the first call).
        """
        return self._db.read_only

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.path!r})"

    # -- operations -------------------------------------------------------------------------

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        partition = _partition(key)
        rows = [(item["id"], dumps_item(item)) for item in items]
        return await self._db.write(lambda conn: append_turn(conn, partition, rows, head))

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        partition = _partition(key)
        if limit is not None and limit <= GLANCE_MOST:
            rows = self._db.glance(lambda conn: load_chain(conn, partition, head, limit), snapshot=True)
            if rows is not None:
                with contextlib.suppress(ValueError):  # a bad row: the worker reads again, to say which
                    return loads_items([text for _, text in rows])

        def load(conn: sqlite3.Connection) -> list[Item]:  # decoded on the worker too, off the event loop
            if limit is None:  # the whole chain: texts only, the fewest objects made per item
                with contextlib.suppress(ValueError):  # a bad row: read again below, to say which
                    return loads_items(load_texts(conn, partition, head))
            rows = load_chain(conn, partition, head, limit)
            try:
                return loads_items([text for _, text in rows])
            except ValueError:  # say which row, with its place in the file
                return [self._decode(key, seq, text) for seq, text in rows]

        return await self._db.read(load)

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        partition = _partition(key)
        if after is not None:  # a caller that has the chain up to a turn: usually a few items follow it
            found = self._db.glance(
                lambda conn: load_after_texts(conn, partition, after, head, most=GLANCE_MOST), snapshot=True
            )
            if found is not None:
                with contextlib.suppress(ValueError):  # a bad row: the worker reads again, to say which
                    return ChainTail(items=loads_items(found[2]), head=found[0], continues=found[1])

        def load(conn: sqlite3.Connection) -> ChainTail:
            conn.execute("BEGIN")  # one snapshot for the few statements
            try:
                found = load_after_texts(conn, partition, after, head)
            finally:
                conn.execute("COMMIT")
            assert found is not None  # no bound: always an answer
            tip, continues, texts = found
            try:
                items = loads_items(texts)
            except ValueError:  # say which row, with its place in the file: it lies on the chain
                for seq, text in load_chain(conn, partition, tip, None):
                    self._decode(key, seq, text)
                raise
            return ChainTail(items=items, head=tip, continues=continues)

        return await self._db.read(load)

    def _decode(self, key: SessionKey, seq: int, text: Any) -> Item:
        try:
            if not isinstance(text, str):
                raise ValueError(f"expected JSON text, found {type(text).__name__}")
            return loads_item(text)
        except ValueError as exc:
            place = f"{self._db.location or MEMORY}: table {ITEMS}, {key!r}, seq {seq}"
            raise CorruptDataError(f"A stored item cannot be read back ({exc}) at {place}.", location=place) from exc

    async def _do_delete(self, key: SessionKey) -> bool:
        partition = _partition(key)

        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute(_DELETE_SESSION, partition).rowcount > 0

        return await self._db.write(delete)

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        conditions = ["(s.user, s.chat, s.session_id) > (?, ?, ?)"]
        filters: list[str] = []
        for column, value in (("user", user), ("chat", chat)):
            if value is not ALL:
                conditions.append(f"s.{column} = ?")
                filters.append(value if isinstance(value, str) else NO_PARTITION)
        conditions.append(f"EXISTS (SELECT 1 FROM {ITEMS} AS i WHERE i.session = s.id)")
        query = (
            f"SELECT s.user, s.chat, s.session_id FROM {SESSIONS} AS s WHERE {' AND '.join(conditions)} "
            "ORDER BY s.user, s.chat, s.session_id LIMIT ?"
        )
        size = self.LIST_PAGE_SIZE

        def page_after(cursor: tuple[str, str, str]) -> Callable[[sqlite3.Connection], list[tuple[str, str, str]]]:
            def page(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
                rows: list[tuple[str, str, str]] = conn.execute(query, (*cursor, *filters, size)).fetchall()
                return rows

            return page

        cursor = ("", "", "")  # below every key: a session id is never empty
        while True:  # one page per read, in key order, so memory stays bounded however many sessions match
            rows = await self._db.read(page_after(cursor))
            for row_user, row_chat, session_id in rows:
                yield SessionKey(session_id, user=row_user or None, chat=row_chat or None)
            if len(rows) < size:
                return
            cursor = rows[-1]

    async def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        where = self.config.describe()
        for row_user, row_chat, session_id, when in await self._db.read(
            lambda conn: list_activity(conn, user, chat, where)
        ):
            yield SessionActivity(SessionKey(session_id, user=row_user or None, chat=row_chat or None), when)

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        partition = _partition(key)
        return await self._db.write(lambda conn: delete_idle(conn, partition, before))

    async def _do_open(self) -> None:
        await self._db.open()

    async def _do_close(self) -> None:
        await self._db.close()


def open_sqlite_store(target: str = "sqlite://", /, **options: Any) -> SQLiteHistoryStore:
    """Open a store from a ``sqlite://`` URL (see the package README for the rules) and options."""
    return SQLiteHistoryStore.from_config(parse_target(target, options))
