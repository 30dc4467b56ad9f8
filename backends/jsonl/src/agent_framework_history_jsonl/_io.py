"""Low-level file operations: OS locks, positional reads and whole writes, through aiofiles' thread pool."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import aiofiles.os

__all__ = [
    "FIRST_TAIL_BLOCK",
    "MAX_TAIL_BLOCK",
    "finish",
    "last_line_start",
    "line_number",
    "read_range",
    "HAVE_OS_LOCKS",
    "lock",
    "pread",
    "pread_sync",
    "unlock",
    "write_all_sync",
    "write_and_sync",
]

FIRST_TAIL_BLOCK: Final = 16 * 1024
MAX_TAIL_BLOCK: Final = 4 * 1024 * 1024

if sys.platform != "win32":
    import fcntl

    HAVE_OS_LOCKS: Final = True
else:  # pragma: no cover - exercised on Windows only
    HAVE_OS_LOCKS: Final = False  # type: ignore[misc]


def _seek_read(fd: int, size: int, offset: int) -> bytes:  # pragma: no cover - Windows has no os.pread
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


pread_sync: Callable[[int, int, int], bytes] = getattr(os, "pread", _seek_read)
pread: Callable[[int, int, int], Any] = aiofiles.os.wrap(pread_sync)
"""``await pread(fd, n, offset)``: read ``n`` bytes at ``offset`` without moving the file position."""


@functools.cache
def _lock_waiters() -> ThreadPoolExecutor:
    """Threads that only wait for OS locks, apart from the I/O threads.

    A lock holder may need an I/O thread to finish (and release), so waiters must never be
    able to take every I/O thread.
    """
    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="af-history-jsonl-lock")


async def lock(fd: int, *, exclusive: bool) -> None:
    """Take the OS lock (``flock``) on ``fd``: exclusive for writers, shared for readers.

    Tries without blocking first (the common, uncontended case costs one system call); when
    another process holds the lock, waits for it in a thread (waiters have a pool of their own)
    so the event loop keeps running. If the waiting task is cancelled, the lock is still taken
    and released before the cancellation goes on, so no lock is left held by nobody.
    """
    if not HAVE_OS_LOCKS:  # pragma: no cover - Windows: the asyncio lock is all there is
        return
    operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    waiting = asyncio.get_running_loop().run_in_executor(_lock_waiters(), fcntl.flock, fd, operation)
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        while not waiting.done():
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                continue
        if not waiting.cancelled() and waiting.exception() is None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        raise


def unlock(fd: int) -> None:
    """Release the OS lock on ``fd``."""
    if HAVE_OS_LOCKS:
        fcntl.flock(fd, fcntl.LOCK_UN)


def write_all_sync(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` at the end of an ``O_APPEND`` file (retrying short writes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_and_sync_sync(fd: int, data: bytes, sync: bool, directory: str | None) -> None:
    write_all_sync(fd, data)
    if sync:
        os.fsync(fd)
        if directory is not None and os.name != "nt":  # a new file: make its directory entry durable too
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


write_and_sync: Callable[[int, bytes, bool, str | None], Any] = aiofiles.os.wrap(_write_and_sync_sync)
"""``await write_and_sync(fd, data, sync, new_file_dir)``: write, then fsync the file (and a new file's directory)."""


class _CancelledAfterWrite(asyncio.CancelledError):
    """The task was cancelled while its write went on to finish: ``written`` tells the caller it landed."""

    written = True


async def finish(job: Awaitable[None]) -> None:
    """Await ``job`` to its end even if the caller is cancelled meanwhile.

    A cancellation that arrives while the job runs is raised after it has finished, with
    ``written=True`` set on it when the job succeeded, so the caller can record what landed.
    """
    task = asyncio.ensure_future(job)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise _CancelledAfterWrite()


async def read_range(fd: int, start: int, end: int) -> bytes:
    """Bytes ``start``..``end`` of the file (fewer only if the file is shorter)."""
    chunks: list[bytes] = []
    pos = start
    while pos < end:
        chunk: bytes = await pread(fd, end - pos, pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def count_newlines(fd: int, end: int) -> int:
    """How many newlines bytes ``0..end`` of the file hold (read in blocks, never whole)."""
    count = 0
    pos = 0
    while pos < end:
        chunk = await read_range(fd, pos, min(end, pos + MAX_TAIL_BLOCK))
        if not chunk:
            break
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count


async def last_line_start(fd: int, size: int) -> int:
    """Offset just past the last newline before ``size`` (0 if none)."""
    pos = size
    block = FIRST_TAIL_BLOCK
    while pos > 0:
        start = max(0, pos - block)
        data = await read_range(fd, start, pos)
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
        block = min(block * 2, MAX_TAIL_BLOCK)
    return 0


def _count_lines_sync(fd: int, end: int) -> int:
    count = 0
    pos = 0
    while pos < end:
        chunk = pread_sync(fd, min(1 << 20, end - pos), pos)
        if not chunk:
            break
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count + 1


_count_lines: Callable[[int, int], Awaitable[int]] = aiofiles.os.wrap(_count_lines_sync)


async def line_number(fd: int, offset: int) -> int:
    """The 1-based number of the line starting at ``offset`` (reads the file up to there)."""
    return await _count_lines(fd, offset)
