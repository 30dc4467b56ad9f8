"""``JsonlHistoryStore``: one append-only JSON-lines file per session."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final, Literal

import aiofiles.os

from agent_framework_history import (
    ALL,
    AllPartitions,
    AppendResult,
    Capability,
    CorruptDataError,
    HistoryStoreBase,
    Item,
    SessionKey,
    check_key,
    dumps_item,
)

from . import _io
from ._dirs import FILE_MODE, O_BINARY, O_CLOEXEC, O_NOFOLLOW, list_keys, prepare_dirs
from ._lines import LineProblem, Parsed, parse_item, parse_region
from ._paths import SessionLocation, locate
from ._report import FileReport, RepairResult

__all__ = ["Durability", "JsonlHistoryStore", "OnCorrupt"]

logger = logging.getLogger("agent_framework_history.jsonl")

Durability = Literal["flush", "fsync"]
OnCorrupt = Literal["raise", "skip"]

DEFAULT_INLINE_WRITE_LIMIT: Final = 64 * 1024
DEFAULT_MAX_OPEN_FILES: Final = 128

_APPEND_FLAGS: Final = os.O_RDWR | os.O_APPEND | os.O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_BINARY
_READ_FLAGS: Final = os.O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_BINARY

_open: Callable[[str, int, int], Awaitable[int]] = aiofiles.os.wrap(os.open)


@dataclass(eq=False)
class _Session:
    """This process's view of one session file: its append descriptor and the index of stored ids."""

    location: SessionLocation
    path: Path = field(init=False)
    path_str: str = field(init=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fd: int | None = None
    ids: set[str] | None = None
    """Ids stored in the first ``size`` bytes; ``None`` until read (or after a failure)."""
    size: int = 0
    lines: int = 0
    identity: tuple[int, int] | None = None
    """``(st_dev, st_ino)`` of the file the index describes."""
    retired: bool = False

    def __post_init__(self) -> None:
        self.path = self.location.path
        self.path_str = str(self.path)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        self.ids = None
        self.identity = None


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
    """

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_SESSIONS,
            Capability.DELETE,
            Capability.PERSISTENT,
            Capability.CONCURRENT_APPEND,
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
    async def _live_session(self, key: SessionKey) -> AsyncIterator[_Session]:
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
            return await self._append_locked(session, items)

    async def _append_locked(self, session: _Session, items: list[Item]) -> AppendResult:
        path = session.path_str
        while True:
            created = False
            if session.fd is None:
                created = await self._open_for_append(session)
            fd = session.fd
            assert fd is not None
            await _io.lock(fd, exclusive=True)
            stale = False
            try:
                stat = os.fstat(fd)
                try:
                    current = os.stat(path)
                except FileNotFoundError:
                    current = None
                if current is None or (current.st_dev, current.st_ino) != (stat.st_dev, stat.st_ino):
                    stale = True  # deleted or replaced by another process since we opened it
                    continue
                await self._refresh_index(session, fd, stat)
                ids = session.ids
                assert ids is not None
                fresh = [item for item in items if item["id"] not in ids]
                if not fresh:
                    return AppendResult(stored=0)
                data = "".join([dumps_item(item) + "\n" for item in fresh]).encode("utf-8")
                await self._write(session, fd, data, fresh, created)
                return AppendResult(stored=len(fresh))
            finally:
                _io.unlock(fd)
                if stale:
                    session.close()

    async def _open_for_append(self, session: _Session) -> bool:
        """Create the directories (and kept names) and open the file; ``True`` if it was created."""
        location = session.location
        existed = await aiofiles.os.path.exists(session.path_str)
        await prepare_dirs(location, self.durability == "fsync")
        session.fd = await _open(session.path_str, _APPEND_FLAGS, FILE_MODE)
        session.ids = None
        return not existed

    async def _refresh_index(self, session: _Session, fd: int, stat: os.stat_result) -> None:
        """Bring the id index up to the file's current end, reading only what it has not seen.

        Called under the exclusive lock, so a torn last line is a crash's leftover, not a write in
        progress: it is repaired here, before anything is appended after it.
        """
        identity = (stat.st_dev, stat.st_ino)
        size = stat.st_size
        if session.ids is not None and session.identity == identity and size >= session.size:
            if size == session.size:
                return
            start, ids, lines = session.size, session.ids, session.lines
        else:
            start, ids, lines = 0, set(), 0
            session.ids = None
        data = await _io.read_range(fd, start, size)
        parsed = parse_region(data, start, lines + 1)
        self._handle_corrupt(session.path, parsed.corrupt)
        end = parsed.end
        if parsed.torn is not None:
            end = await self._repair_torn(fd, session.path, parsed)
            if parsed.torn_item is not None:
                ids.add(parsed.torn_item["id"])
                lines += 1
        ids.update(item["id"] for _, item in parsed.items)
        session.ids = ids
        session.size = end
        session.lines = lines + parsed.lines
        session.identity = identity

    async def _repair_torn(self, fd: int, path: Path, parsed: Parsed) -> int:
        """Fix a torn last line (under the exclusive lock); returns the file's new size."""
        torn = parsed.torn
        assert torn is not None
        if parsed.torn_item is not None:
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

    async def _write(self, session: _Session, fd: int, data: bytes, fresh: list[Item], created: bool) -> None:
        """Append ``data`` with one write; on failure, cut the file back so it ends on a whole line."""
        start = session.size
        sync = self.durability == "fsync"
        try:
            if len(data) <= self.inline_write_limit and not sync:
                _io.write_all_sync(fd, data)
            else:
                await _io.finish(_io.write_and_sync(fd, data, sync, str(session.path.parent) if created else None))
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and getattr(exc, "written", False):
                self._record(session, data, fresh)
                raise
            session.ids = None  # read the file again next time
            try:
                os.ftruncate(fd, start)
            except OSError:  # the torn-line repair before the next append cleans up instead
                logger.warning("%s: could not undo a failed append; the next append repairs the file.", fd)
            raise
        self._record(session, data, fresh)

    @staticmethod
    def _record(session: _Session, data: bytes, fresh: list[Item]) -> None:
        ids = session.ids
        assert ids is not None
        ids.update(item["id"] for item in fresh)
        session.size += len(data)
        session.lines += len(fresh)

    def _handle_corrupt(self, path: Path, corrupt: list[LineProblem]) -> None:
        if not corrupt:
            return
        if self.on_corrupt == "raise":
            first = corrupt[0]
            raise CorruptDataError(
                f"{path}: line {first.line} is not a stored item ({first.reason})"
                f"{f'; {len(corrupt) - 1} more such lines follow' if len(corrupt) > 1 else ''}. "
                "Fix or remove the line (JsonlHistoryStore.check() lists them), or open the store with "
                "on_corrupt='skip' to pass over such lines.",
                location=f"{path}:{first.line}",
            )
        self._skipped += len(corrupt)
        for problem in corrupt:
            logger.warning("%s: skipped corrupt line %d (%s).", path, problem.line, problem.reason)

    # -- load ---------------------------------------------------------------------------------

    def _path(self, key: SessionKey) -> Path:
        session = self._sessions.get(key)
        return session.path if session is not None else locate(self.root, key).path

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        path = self._path(key)
        try:
            fd = await _open(str(path), _READ_FLAGS, 0)
        except FileNotFoundError:
            return []
        try:
            await _io.lock(fd, exclusive=False)
            try:
                size = os.fstat(fd).st_size
                if limit is None:
                    return await self._load_all(fd, path, size)
                return await self._load_tail(fd, path, size, limit)
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)

    async def _load_all(self, fd: int, path: Path, size: int) -> list[Item]:
        parsed = parse_region(await _io.read_range(fd, 0, size))
        self._handle_corrupt(path, parsed.corrupt)
        items = [item for _, item in parsed.items]
        if parsed.torn is not None:
            self._warn_torn(path, parsed.torn)
            if parsed.torn_item is not None:
                items.append(parsed.torn_item)
        return items

    async def _load_tail(self, fd: int, path: Path, size: int, limit: int) -> list[Item]:
        """The last ``limit`` items, reading backwards from the end in growing blocks."""
        found: list[Item] = []  # newest first
        corrupt: list[tuple[int, int, str]] = []  # (offset, length, reason), newest first
        pos = size
        carry = b""  # bytes from ``pos`` up to the first line already parsed
        block = _io.FIRST_TAIL_BLOCK
        first = True
        while pos > 0 and len(found) < limit:
            start = max(0, pos - block)
            data = await _io.read_range(fd, start, pos) + carry
            pos = start
            block = min(block * 2, _io.MAX_TAIL_BLOCK)
            if first:
                first = False
                cut = data.rfind(b"\n") + 1
                tail = data[cut:]
                if tail and (cut > 0 or start == 0):
                    torn = self._torn_tail(path, start + cut, tail)
                    if torn is not None:
                        found.append(torn)
                    data = data[:cut]
                elif tail:  # one line longer than the block: read further back before judging it
                    carry, first = data, True
                    continue
            if start > 0:
                split = data.find(b"\n") + 1
                if split == 0:
                    carry = data
                    continue
                carry, data, base = data[:split], data[split:], start + split
            else:
                carry, base = b"", 0
            lines = data.split(b"\n")
            lines.pop()
            offset = base + len(data)
            for raw in reversed(lines):
                offset -= len(raw) + 1
                if not raw.strip():
                    continue
                try:
                    found.append(parse_item(raw))
                except ValueError as exc:
                    corrupt.append((offset, len(raw), str(exc)))
                    if self.on_corrupt == "raise":
                        break
                if len(found) >= limit:
                    break
            if corrupt and self.on_corrupt == "raise":
                break
        if corrupt:
            numbered = [
                LineProblem(await _io.line_number(fd, offset), offset, length, "corrupt", reason)
                for offset, length, reason in reversed(corrupt)
            ]
            self._handle_corrupt(path, numbered)
        found.reverse()
        return found[-limit:]

    def _torn_tail(self, path: Path, offset: int, tail: bytes) -> Item | None:
        try:
            item = parse_item(tail)
        except ValueError:
            item = None
        problem = LineProblem(0, offset, len(tail), "torn", "", recoverable=item is not None)
        self._warn_torn(path, problem)
        return item

    @staticmethod
    def _warn_torn(path: Path, torn: LineProblem) -> None:
        if torn.recoverable:
            logger.info("%s: the last item lacks its newline; the next append adds it.", path)
        else:
            logger.warning(
                "%s: skipped a torn last line (%d bytes at offset %d) left by an interrupted write; "
                "the next append removes it.",
                path,
                torn.length,
                torn.offset,
            )

    # -- delete and list ----------------------------------------------------------------------

    async def _do_delete(self, key: SessionKey) -> bool:
        async with self._live_session(key) as session:
            session.close()
            return await self._delete_locked(session.path)

    @staticmethod
    async def _delete_locked(path: Path) -> bool:
        while True:
            try:
                fd = await _open(str(path), os.O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_BINARY, 0)
            except FileNotFoundError:
                return False
            try:
                await _io.lock(fd, exclusive=True)  # wait for any append in progress elsewhere
                try:
                    stat = os.fstat(fd)
                    try:
                        current = os.stat(path)
                    except FileNotFoundError:
                        return False
                    if (current.st_dev, current.st_ino) != (stat.st_dev, stat.st_ino):
                        continue
                    await aiofiles.os.unlink(path)
                    return True
                finally:
                    _io.unlock(fd)
            finally:
                os.close(fd)

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        for key in await list_keys(self.root, user, chat):
            yield key

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
        path = self._path(check_key(key))
        try:
            fd = await _open(str(path), _READ_FLAGS, 0)
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
        items = len(parsed.items) + (parsed.torn_item is not None)
        return FileReport(key, path, exists=True, size=size, items=items, problems=tuple(problems))

    async def scan(
        self, *, user: str | AllPartitions | None = ALL, chat: str | AllPartitions | None = ALL
    ) -> AsyncIterator[FileReport]:
        """:meth:`check` every session of the partition (``ALL`` by default), one report each."""
        async for key in self.list_sessions(user=user, chat=chat):
            yield await self.check(key)

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
            return await self._repair_locked(key, session.path)

    async def _repair_locked(self, key: SessionKey, path: Path) -> RepairResult:
        try:
            fd = await _open(str(path), os.O_RDWR | os.O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_BINARY, 0)
        except FileNotFoundError:
            return RepairResult(key, path, "missing")
        try:
            await _io.lock(fd, exclusive=True)
            try:
                size = os.fstat(fd).st_size
                start = await _io.last_line_start(fd, size)
                parsed = parse_region(await _io.read_range(fd, start, size), start)
                if parsed.torn is None:
                    return RepairResult(key, path, "none")
                await self._repair_torn(fd, path, parsed)
                if parsed.torn_item is not None:
                    return RepairResult(key, path, "terminated")
                return RepairResult(key, path, "truncated", removed_bytes=parsed.torn.length)
            finally:
                _io.unlock(fd)
        finally:
            os.close(fd)
