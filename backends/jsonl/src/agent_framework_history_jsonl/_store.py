"""``JsonlHistoryStore``: one append-only JSON-lines file per session."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from agent_framework_history.backend import (
    ALL,
    AllPartitions,
    AppendResult,
    Capability,
    ChainTail,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    ProblemKind,
    SessionActivity,
    SessionKey,
    StorageProblem,
    StorageRepair,
    StorageReport,
    Turn,
    check_key,
    dumps_item,
    new_head,
)

from . import _io
from ._dirs import (
    O_BINARY,
    list_activity,
    list_keys,
    open_for_append,
    open_session_dir,
    open_session_file,
    session_identity,
)
from ._lines import Parsed, Record, TurnMarker, dumps_marker, parse_line, parse_region
from ._paths import SessionLocation, locate
from ._report import FileReport, RepairResult
from ._turns import BackwardChain, BackwardTail, FileIndex, chain_items

__all__ = ["Durability", "JsonlHistoryStore", "OnCorrupt"]

logger = logging.getLogger("agent_framework_history.jsonl")

Durability = Literal["flush", "fsync"]
OnCorrupt = Literal["raise", "skip"]

DEFAULT_INLINE_WRITE_LIMIT: Final = 64 * 1024
DEFAULT_MAX_OPEN_FILES: Final = 128

_APPEND_FLAGS: Final = os.O_RDWR | os.O_APPEND | O_BINARY
_READ_FLAGS: Final = os.O_RDONLY | O_BINARY


@dataclass(eq=False)
class _Session:
    """This process's view of one session file: its append descriptor and the index of stored ids."""

    location: SessionLocation
    path: Path = field(init=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fd: int | None = None
    index: FileIndex | None = None
    """The turns and ids stored in the first ``size`` bytes; ``None`` until read (or after a failure)."""
    size: int = 0
    lines: int = 0
    identity: tuple[int, int] | None = None
    """``(st_dev, st_ino)`` of the file the index describes."""
    retired: bool = False

    def __post_init__(self) -> None:
        self.path = self.location.path

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        self.index = None
        self.identity = None


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    """``moment`` as nanoseconds since the epoch, the unit of ``st_mtime_ns`` (exact: no float on the way)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


class JsonlHistoryStore(HistoryStoreBase):
    """Histories as JSON-lines files: ``{root}/{user}/{chat}/{session}.jsonl``, one item per line.

    - ``durability="flush"`` (default) hands each append to the operating system before
      returning: it survives the process crashing, not the machine losing power.
      ``"fsync"`` also waits for the disk, per append (much slower; survives power loss).
    - ``on_corrupt="raise"`` (default) makes a complete line that is not an item raise
      :class:`~agent_framework_history.CorruptDataError` naming file and line; ``"skip"`` passes
      over it with a warning and counts it in :attr:`skipped_lines`.
    - ``inline_write_limit``: appends up to this many bytes are written straight from the event
      loop (a page-cache write costs less than handing it to a thread); larger ones, and every
      fsync, go through aiofiles' thread pool. ``0`` sends every write to the thread pool.
    - ``max_open_files``: session files kept open (with their id index) between appends.

    Several tasks, and several processes on one machine, may append to one session at once:
    appends are serialised by an asyncio lock per file and an OS lock (``flock``) on the file.

    A session is a chain of turns (``Capability.CHAIN_HEAD``): each append writes its new items
    and a turn marker line (``{"af_turn":{"head":…,"parent":…}}``) in one write, and returns the
    turn's head. Item lines after the last marker — files written before chain heads — form an
    unnamed turn continuing the last marked one. No symbolic link below the root is followed.
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_SESSIONS,
            Capability.DELETE,
            Capability.PERSISTENT,
            Capability.CONCURRENT_APPEND,
            Capability.CHAIN_HEAD,
            Capability.ACTIVITY,
            Capability.LOAD_AFTER,
            Capability.CHECK,
            Capability.REPAIR,
            *((Capability.MULTI_PROCESS,) if _io.HAVE_OS_LOCKS else ()),
        }
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durability: Durability = "flush",
        on_corrupt: OnCorrupt = "raise",
        inline_write_limit: int = DEFAULT_INLINE_WRITE_LIMIT,
        max_open_files: int = DEFAULT_MAX_OPEN_FILES,
    ) -> None:
        super().__init__()
        if durability not in ("flush", "fsync"):
            raise ValueError(f"durability must be 'flush' or 'fsync', got {durability!r}.")
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}.")
        value: Any  # as an untyped caller may pass it
        for name, value, least in (
            ("inline_write_limit", inline_write_limit, 0),
            ("max_open_files", max_open_files, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}.")
        text = os.fspath(root)
        if not text:
            raise ValueError("The jsonl store root must not be empty; give a directory such as './.af-history'.")
        self.root = Path(os.path.abspath(text))
        self.durability: Durability = durability
        self.on_corrupt: OnCorrupt = on_corrupt
        self.inline_write_limit = inline_write_limit
        self.max_open_files = max_open_files
        self._skipped = 0
        self._sessions: OrderedDict[SessionKey, _Session] = OrderedDict()

    def __repr__(self) -> str:
        return f"JsonlHistoryStore({str(self.root)!r}, durability={self.durability!r}, on_corrupt={self.on_corrupt!r})"

    @property
    def skipped_lines(self) -> int:
        """Corrupt lines passed over with ``on_corrupt="skip"`` since the store was opened.

        Counted once per read that met them, so a corrupt line read twice counts twice.
        """
        return self._skipped

    def path_for(self, key: SessionKey) -> Path:
        """The file holding ``key``'s history (it may not exist yet)."""
        return locate(self.root, check_key(key)).path

    # -- the per-session cache ----------------------------------------------------------------

    def _session(self, key: SessionKey) -> _Session:
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
            return session
        session = _Session(locate(self.root, key))
        self._sessions[key] = session
        if len(self._sessions) > self.max_open_files:
            for old_key, old in list(self._sessions.items()):
                if len(self._sessions) <= self.max_open_files:
                    break
                if old is not session and not old.lock.locked():
                    del self._sessions[old_key]
                    old.retired = True
                    old.close()
        return session

    # -- append -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _live_session(self, key: SessionKey) -> AsyncGenerator[_Session, None]:
        """The session's state, held under its lock; retried when the entry was retired while waiting."""
        while True:
            session = self._session(key)
            async with session.lock:
                if session.retired:
                    continue
                yield session
                return

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        async with self._live_session(key) as session:
            return await self._append_locked(session, items, head)

    async def _append_locked(self, session: _Session, items: list[Item], head: str | None) -> AppendResult:
        while True:
            if session.fd is None:
                await self._open_for_append(session)
            fd = session.fd
            assert fd is not None
            await _io.lock(fd, exclusive=True)
            stale = False
            try:
                stat = os.fstat(fd)
                # The path, walked from the root without following links, must still name our file.
                if session_identity(session.location) != (stat.st_dev, stat.st_ino):
                    stale = True  # deleted or replaced by another process since we opened it
                    continue
                await self._refresh_index(session, fd, stat)
                return await self._append_turn(session, fd, items, head)
            finally:
                _io.unlock(fd)
                if stale:
                    session.close()

    async def _append_turn(self, session: _Session, fd: int, items: list[Item], head: str | None) -> AppendResult:
        """Under both locks, with the index current: write the turn's new items and its marker in one write."""
        index = session.index
        assert index is not None
        latest = index.chains.latest
        tip: Turn | None = None
        if head is None:
            fresh = [item for item in items if not index.in_latest_chain(item["id"])]
        else:
            tip = index.chains.get(head)
            if tip is None:
                logger.warning(
                    "%s: head %r is not a turn of session %r (another session's, or a deleted one's); "
                    "starting a new chain.",
                    session.path,
                    head[:80],
                    session.location.key,
                )
            fresh = [item for item in items if not index.chains.in_chain(item["id"], tip)]
        if not fresh and (head is not None or not index.loose):
            continued = tip if head is not None else latest
            return AppendResult(stored=0, head=continued.head if continued is not None else None)
        records: list[Record] = []
        latest_head = latest.head if latest is not None else None
        if index.loose:  # first name the unnamed run at the end of the file: a turn of its own
            closing = TurnMarker(new_head(), latest_head)
            records.append(closing)
            latest_head = closing.head
        if fresh:
            parent = latest_head  # head=None: continue the latest turn
            if head is not None:  # continue the named turn; an unknown head starts a new root chain
                parent = tip.head if tip is not None else None
            records.extend(fresh)
            records.append(TurnMarker(new_head(), parent))
        texts = [dumps_marker(r.head, r.parent) if isinstance(r, TurnMarker) else dumps_item(r) for r in records]
        data = "".join([text + "\n" for text in texts]).encode("utf-8")
        await self._write(session, fd, data, records)
        last = records[-1]
        assert isinstance(last, TurnMarker)
        return AppendResult(stored=len(fresh), head=last.head)

    async def _open_for_append(self, session: _Session) -> None:
        """Create the directories (and kept names) and open the file (a new one's entry fsynced with ``"fsync"``)."""
        session.fd, _ = await open_for_append(session.location, _APPEND_FLAGS, self.durability == "fsync")
        session.index = None

    async def _refresh_index(self, session: _Session, fd: int, stat: os.stat_result) -> None:
        """Bring the index up to the file's current end, reading only what it has not seen.

        Called under the exclusive lock, so a torn last line is a crash's leftover, not a write in
        progress: it is repaired here, before anything is appended after it.
        """
        identity = (stat.st_dev, stat.st_ino)
        size = stat.st_size
        index = session.index
        if index is not None and session.identity == identity and size >= session.size:
            if size == session.size:
                return
            start, lines = session.size, session.lines
        else:
            start, index, lines = 0, FileIndex(), 0
            session.index = None
        data = await _io.read_range(fd, start, size)
        parsed = parse_region(data, start, lines + 1)
        self._handle_corrupt(session.path, [(p.line, p.reason) for p in parsed.corrupt])
        for offset, record in parsed.records:
            index.add(offset, record)
        end = parsed.end
        if parsed.torn is not None:
            end = await self._repair_torn(fd, session.path, parsed)
            if parsed.torn_record is not None:
                index.add(parsed.torn.offset, parsed.torn_record)
                lines += 1
        session.index = index
        session.size = end
        session.lines = lines + parsed.lines
        session.identity = identity

    async def _repair_torn(self, fd: int, path: Path, parsed: Parsed) -> int:
        """Fix a torn last line (under the exclusive lock); returns the file's new size."""
        torn = parsed.torn
        assert torn is not None
        if parsed.torn_record is not None:
            _io.write_all_sync(fd, b"\n")
            logger.warning("%s: line %d lacked its newline; added it (the item is kept).", path, torn.line)
            return torn.offset + torn.length + 1
        os.ftruncate(fd, torn.offset)
        logger.warning(
            "%s: removed a torn last line (line %d, %d bytes at offset %d), left by a write interrupted by a crash.",
            path,
            torn.line,
            torn.length,
            torn.offset,
        )
        return torn.offset

    async def _write(self, session: _Session, fd: int, data: bytes, records: list[Record]) -> None:
        """Append ``data`` with one write; on failure, cut the file back so it ends on a whole line."""
        start = session.size
        sync = self.durability == "fsync"
        try:
            if len(data) <= self.inline_write_limit and not sync:
                _io.write_all_sync(fd, data)
            else:
                await _io.finish(_io.write_and_sync(fd, data, sync, None))
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and getattr(exc, "written", False):
                self._record(session, data, records)
                raise
            session.index = None  # read the file again next time
            try:
                os.ftruncate(fd, start)
            except OSError:  # the torn-line repair before the next append cleans up instead
                logger.warning("%s: could not undo a failed append; the next append repairs the file.", fd)
            raise
        self._record(session, data, records)

    @staticmethod
    def _record(session: _Session, data: bytes, records: list[Record]) -> None:
        """Add what was just written at ``session.size`` to the index (markers come first or last only)."""
        index = session.index
        assert index is not None
        start = session.size
        end = start + len(data)
        for position, record in enumerate(records):
            if isinstance(record, TurnMarker):
                at = start if position == 0 else end - len(dumps_marker(record.head, record.parent)) - 1
                index.close(at, record.head, record.parent)
            else:
                index.add(start, record)
        session.size = end
        session.lines += len(records)

    def _handle_corrupt(self, path: Path, corrupt: list[tuple[int, str]]) -> None:
        """Raise or skip (by ``on_corrupt``) the corrupt lines met, given as ``(line number, reason)``."""
        if not corrupt:
            return
        if self.on_corrupt == "raise":
            line, reason = corrupt[0]
            raise CorruptDataError(
                f"{path}: line {line} is not a stored item ({reason})"
                f"{f'; {len(corrupt) - 1} more such lines follow' if len(corrupt) > 1 else ''}. "
                "Fix or remove the line (JsonlHistoryStore.check() lists them), or open the store with "
                "on_corrupt='skip' to pass over such lines.",
                location=f"{path}:{line}",
            )
        self._skipped += len(corrupt)
        for line, reason in corrupt:
            logger.warning("%s: skipped corrupt line %d (%s).", path, line, reason)

    # -- load ---------------------------------------------------------------------------------

    def _location(self, key: SessionKey) -> SessionLocation:
        session = self._sessions.get(key)
        return session.location if session is not None else locate(self.root, key)

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        location = self._location(key)
        path = location.path
        try:
            fd = await open_session_file(location, _READ_FLAGS)
        except FileNotFoundError:
            return []
        try:
            await _io.lock(fd, exclusive=False)
            try:
                stat = os.fstat(fd)
                markers = self._current_markers(key, stat)  # every head and where it is, when known
                if markers is not None and head is not None and head not in markers:
                    return []
                if limit is None:
                    return await self._load_all(fd, path, stat.st_size, head)
                return await self._load_tail(fd, path, stat.st_size, limit, head, markers)
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)

    async def _do_load_after(self, key: SessionKey, after: str | None, head: str | None) -> ChainTail:
        location = self._location(key)
        try:
            fd = await open_session_file(location, _READ_FLAGS)
        except FileNotFoundError:
            return ChainTail(items=[], head=None, continues=False)
        try:
            await _io.lock(fd, exclusive=False)
            try:
                markers = self._current_markers(key, os.fstat(fd))
                if markers is not None and head is not None:
                    if head not in markers:
                        return ChainTail(items=[], head=None, continues=False)
                    if head == after:
                        return ChainTail(items=[], head=head, continues=True)
                tail = BackwardTail(head, after)
                await self._walk_back(fd, location.path, os.fstat(fd).st_size, tail, head, markers)
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)
        return ChainTail(items=tail.items(), head=tail.tip, continues=tail.continues)

    def _current_markers(self, key: SessionKey, stat: os.stat_result) -> dict[str, tuple[int, str | None]] | None:
        """``head -> (offset, parent)`` of every turn, when this store's index describes the whole file."""
        session = self._sessions.get(key)
        if (
            session is not None
            and session.index is not None
            and session.identity == (stat.st_dev, stat.st_ino)
            and session.size == stat.st_size
        ):
            return session.index.markers
        return None

    async def _load_all(self, fd: int, path: Path, size: int, head: str | None) -> list[Item]:
        parsed = parse_region(await _io.read_range(fd, 0, size))
        self._handle_corrupt(path, [(p.line, p.reason) for p in parsed.corrupt])
        if parsed.torn is not None:
            self._warn_torn(path, parsed.torn.offset, parsed.torn.length, parsed.torn.recoverable)
        return chain_items(parsed.all_records(), head)

    async def _load_tail(
        self,
        fd: int,
        path: Path,
        size: int,
        limit: int,
        head: str | None,
        markers: dict[str, tuple[int, str | None]] | None,
    ) -> list[Item]:
        """The last ``limit`` items of the chain, reading backwards from the end of the file.

        A fork-free chain ending at the latest turn costs what its last ``limit`` items take. With
        ``markers`` (``head -> (offset, parent)`` of a current index), the read starts at the head's
        marker and jumps over other branches to the next turn of the chain; without, those lines
        are read and passed over.
        """
        chain = BackwardChain(head, limit)
        await self._walk_back(fd, path, size, chain, head, markers)
        return chain.items()

    async def _walk_back(
        self,
        fd: int,
        path: Path,
        size: int,
        chain: BackwardChain,
        head: str | None,
        markers: dict[str, tuple[int, str | None]] | None,
    ) -> None:
        """Feed ``chain`` the records before the end of the file, newest first, until it has what it wants."""
        corrupt: list[tuple[int, str]] = []  # (offset, reason), newest first
        start: int | None = size
        if markers is not None and head is not None:
            start, parent = markers[head]
            chain.enter(parent)
        while start is not None:
            end, start = start, None
            async with aclosing(self._records_backward(fd, path, end, corrupt)) as records:
                async for record in records:
                    if chain.feed(record):
                        break
                    if markers is not None and chain.skipping:  # jump to the marker of the chain's next turn
                        assert chain.wanted is not None
                        target = markers.get(chain.wanted)
                        if target is None:  # the parent is not in the file: the chain ends
                            break
                        if target[0] < end:  # (always, unless a hand-edited file repeats a head)
                            start, parent = target
                            chain.enter(parent)
                            break
        if corrupt:
            numbered = [(await _io.line_number(fd, offset), reason) for offset, reason in reversed(corrupt)]
            self._handle_corrupt(path, numbered)

    async def _records_backward(
        self, fd: int, path: Path, end: int, corrupt: list[tuple[int, str]]
    ) -> AsyncGenerator[Record, None]:
        """The records of the lines before ``end``, newest first, read in growing blocks.

        Corrupt lines raise (``on_corrupt="raise"``) or are added to ``corrupt``; a torn last line
        (only possible when ``end`` is the file's end) is yielded when it holds a whole record.
        """
        pos = end
        carry = b""  # bytes from ``pos`` up to the first line already parsed
        block = _io.FIRST_TAIL_BLOCK
        while pos > 0:
            start = max(0, pos - block)
            data = await _io.read_range(fd, start, pos) + carry
            pos = start
            block = min(block * 2, _io.MAX_TAIL_BLOCK)
            if start > 0:
                split = data.find(b"\n") + 1
                if split == 0:  # no line starts in this block: read further back
                    carry = data
                    continue
                carry, data, base = data[:split], data[split:], start + split
            else:
                carry, base = b"", 0
            pieces = data.split(b"\n")
            tail = pieces.pop()
            offset = base + len(data) - len(tail)
            if tail:
                torn = self._torn_tail(path, offset, tail)
                if torn is not None:
                    yield torn
            for raw in reversed(pieces):
                offset -= len(raw) + 1
                if not raw.strip():
                    continue
                try:
                    record = parse_line(raw)
                except ValueError as exc:
                    if self.on_corrupt == "raise":
                        line = await _io.line_number(fd, offset)
                        self._handle_corrupt(path, [(line, str(exc))])
                    corrupt.append((offset, str(exc)))
                    continue
                yield record

    def _torn_tail(self, path: Path, offset: int, tail: bytes) -> Record | None:
        try:
            record: Record | None = parse_line(tail)
        except ValueError:
            record = None
        self._warn_torn(path, offset, len(tail), record is not None)
        return record

    @staticmethod
    def _warn_torn(path: Path, offset: int, length: int, recoverable: bool) -> None:
        """Tell of a torn last line met by a load (which never repairs: the next append does)."""
        if recoverable:
            logger.info("%s: the last item lacks its newline; the next append adds it.", path)
        else:
            logger.warning(
                "%s: skipped a torn last line (%d bytes at offset %d) left by an interrupted write; "
                "the next append removes it.",
                path,
                length,
                offset,
            )

    # -- delete and list ----------------------------------------------------------------------

    async def _do_delete(self, key: SessionKey) -> bool:
        async with self._live_session(key) as session:
            session.close()
            return await self._delete_locked(session.location)

    async def _do_delete_idle(self, key: SessionKey, before: datetime) -> bool:
        async with self._live_session(key) as session:
            session.close()
            return await self._delete_locked(session.location, idle_before_ns=_ns(before))

    @staticmethod
    async def _delete_locked(location: SessionLocation, *, idle_before_ns: int | None = None) -> bool:
        """Unlink the session's file under its exclusive lock; with ``idle_before_ns``, only if not written since."""
        name = location.filename
        while True:
            try:
                directory = await open_session_dir(location)
            except FileNotFoundError:
                return False
            try:
                try:
                    fd = directory.open(name, os.O_RDWR)
                except FileNotFoundError:
                    return False
                try:
                    await _io.lock(fd, exclusive=True)  # wait for any append in progress elsewhere
                    try:
                        stat = os.fstat(fd)
                        try:
                            current = directory.lstat(name)
                        except FileNotFoundError:
                            return False
                        if (current.st_dev, current.st_ino) != (stat.st_dev, stat.st_ino):
                            continue
                        if idle_before_ns is not None and stat.st_mtime_ns >= idle_before_ns:
                            return False  # written to since it was listed: in use again
                        directory.unlink(name)  # in the directory just walked to: never through a link
                        return True
                    finally:
                        _io.unlock(fd)
                finally:
                    os.close(fd)
            finally:
                directory.close()

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        for key in await list_keys(self.root, user, chat):
            yield key

    async def _do_list_activity(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionActivity]:
        for key, mtime_ns in await list_activity(self.root, user, chat):
            yield SessionActivity(key, _EPOCH + timedelta(microseconds=mtime_ns // 1_000))

    async def _do_close(self) -> None:
        for session in self._sessions.values():
            session.retired = True
            session.close()
        self._sessions.clear()

    # -- checking and repairing (used by ``af-history check``) ----------------------------------

    async def check(self, key: SessionKey) -> FileReport:
        """Read ``key``'s file under a shared lock and report its torn and corrupt lines.

        Never changes the file. A corrupt line is reported whatever ``on_corrupt`` says.
        """
        self._check_open("check")
        location = self._location(check_key(key))
        path = location.path
        try:
            fd = await open_session_file(location, _READ_FLAGS)
        except FileNotFoundError:
            return FileReport(key, path, exists=False, size=0, items=0)
        try:
            await _io.lock(fd, exclusive=False)
            try:
                size = os.fstat(fd).st_size
                parsed = parse_region(await _io.read_range(fd, 0, size))
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)
        problems = list(parsed.corrupt)
        if parsed.torn is not None:
            problems.append(parsed.torn)
        items = len(parsed.items) + isinstance(parsed.torn_record, dict)
        return FileReport(key, path, exists=True, size=size, items=items, problems=tuple(problems))

    async def scan(
        self, *, user: str | AllPartitions | None = ALL, chat: str | AllPartitions | None = ALL
    ) -> AsyncIterator[FileReport]:
        """:meth:`check` every session of the partition (``ALL`` by default), one report each."""
        async for key in self.list_sessions(user=user, chat=chat):
            yield await self.check(key)

    async def _do_check_storage(self, repair: bool) -> StorageReport:
        """:meth:`scan` every session file; with ``repair``, :meth:`repair` each torn last line first."""
        problems: list[StorageProblem] = []
        repaired: list[StorageRepair] = []
        async for file in self.scan():
            torn = file.torn
            if repair and torn is not None:
                result = await self.repair(file.key)
                detail = f"torn last line {torn.line} ({result.description})"
                repaired.append(StorageRepair(str(file.path), detail, file.key))
            problems.extend(
                StorageProblem(ProblemKind(p.kind), f"{file.path}:{p.line}", f"{p.kind} line: {p.reason}", file.key)
                for p in file.problems
                if not (repair and p.kind == "torn")
            )
        return StorageReport(tuple(problems), tuple(repaired))

    async def repair(self, key: SessionKey) -> RepairResult:
        """Fix a torn last line of ``key``'s file, as the next append would.

        A last line cut short by a crash is removed (it was never a complete item); a last line
        that holds a whole item but lacks its newline gets the newline. Corrupt lines elsewhere are
        left alone (see :meth:`check`): this library never deletes a complete line.
        """
        self._check_open("repair")
        key = check_key(key)
        async with self._live_session(key) as session:
            session.close()
            return await self._repair_locked(key, session.location)

    async def _repair_locked(self, key: SessionKey, location: SessionLocation) -> RepairResult:
        path = location.path
        try:
            fd = await open_session_file(location, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return RepairResult(key, path, "missing")
        try:
            await _io.lock(fd, exclusive=True)
            try:
                size = os.fstat(fd).st_size
                start = await _io.last_line_start(fd, size)
                tail = await _io.read_range(fd, start, size)
                if parse_region(tail, start).torn is None:
                    return RepairResult(key, path, "none")
                # numbered as a scan of the whole file numbers it, so the warning and `af-history check` agree
                parsed = parse_region(tail, start, await _io.count_newlines(fd, start) + 1)
                assert parsed.torn is not None
                await self._repair_torn(fd, path, parsed)
                if parsed.torn_record is not None:
                    return RepairResult(key, path, "terminated")
                return RepairResult(key, path, "truncated", removed_bytes=parsed.torn.length)
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)
