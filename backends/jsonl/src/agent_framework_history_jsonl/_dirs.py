"""Directories, kept names of hashed parts, and listing: synchronous work, run in aiofiles' thread pool.

No path below the store root is ever resolved by the kernel in one go: every operation walks from
the root one directory at a time, opening each with ``O_NOFOLLOW | O_DIRECTORY`` relative to the
one before, and then opens, stats, unlinks or lists relative to the last one. A directory replaced
by a symbolic link — even after the store has used it — is refused, so nothing outside the root
is ever read, written, deleted or listed. (Where the platform cannot open relative to a directory
descriptor — Windows — the resolved path is checked to lie inside the root instead, each time.)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import uuid
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiofiles.os

from agent_framework_history.backend import ALL, AllPartitions, CorruptDataError, SessionKey

from . import _io
from ._paths import (
    KEY_SIDECAR,
    NONE_SEGMENT,
    PARTITION,
    SIDECAR_SUFFIX,
    SUFFIX,
    SessionLocation,
    UnknownName,
    check_inside,
    decode_partition,
    encode_segment,
    session_from_filename,
)

__all__ = [
    "FILE_MODE",
    "HAVE_DIR_FD",
    "O_BINARY",
    "O_CLOEXEC",
    "O_NOFOLLOW",
    "Dir",
    "list_activity",
    "list_keys",
    "open_session_dir",
    "open_session_file",
    "open_for_append",
    "session_identity",
]

logger = logging.getLogger("agent_framework_history.jsonl")

FILE_MODE: Final = 0o600
"""Histories hold private conversations: new files are readable by their owner only (before the umask)."""
O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
O_BINARY: Final = getattr(os, "O_BINARY", 0)
O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)

HAVE_DIR_FD: Final = (
    bool(O_NOFOLLOW and O_DIRECTORY)
    and {os.open, os.stat, os.unlink, os.mkdir, os.rename} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
)
"""Whether every file operation can be made relative to a directory descriptor (POSIX)."""

_DIR_FLAGS: Final = os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
_LINK_ERRORS: Final = frozenset({errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)})


@dataclass(slots=True)
class Dir:
    """An open directory below the store root (its descriptor; its path only for messages and Windows)."""

    path: str
    fd: int | None
    root: Path

    def _at(self, name: str) -> tuple[str, int | None]:
        return (name, self.fd) if self.fd is not None else (os.path.join(self.path, name), None)

    def open(self, name: str, flags: int, mode: int = 0o777) -> int:
        """Open the entry ``name`` (always with ``O_NOFOLLOW``: a link there is refused with ``ValueError``)."""
        target, dir_fd = self._at(name)
        try:
            return os.open(target, flags | O_NOFOLLOW | O_CLOEXEC | O_BINARY, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _LINK_ERRORS - {errno.ENOTDIR} and self.is_link(name):
                raise _refuse(
                    self.root, os.path.join(self.path, name), "to open a file", "is a symbolic link"
                ) from None
            raise

    def is_link(self, name: str) -> bool:
        try:
            return stat.S_ISLNK(self.lstat(name).st_mode)
        except OSError:
            return False

    def lstat(self, name: str) -> os.stat_result:
        target, dir_fd = self._at(name)
        return os.stat(target, dir_fd=dir_fd, follow_symlinks=False)

    def unlink(self, name: str) -> None:
        target, dir_fd = self._at(name)
        os.unlink(target, dir_fd=dir_fd)

    def replace(self, source: str, target: str) -> None:
        if self.fd is None:
            os.replace(os.path.join(self.path, source), os.path.join(self.path, target))
        else:
            os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def entries(self) -> list[os.DirEntry[str]]:
        return list(os.scandir(self.fd if self.fd is not None else self.path))

    def fsync(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def _refuse(root: Path, path: str | Path, what: str, reason: str) -> ValueError:
    return ValueError(
        f"The jsonl store refuses {what}: {str(path)!r} {reason}. The store follows no link below its root, so "
        f"that nothing outside the store root {str(root)!r} is ever read, written or deleted. Remove the link "
        "(or move the file away), or choose another root."
    )


def _child(parent: Dir, name: str, *, create: bool, root: Path, what: str) -> Dir:
    """Open the directory ``name`` inside ``parent`` (creating it when asked), refusing links."""
    path = os.path.join(parent.path, name)
    if parent.fd is None:  # pragma: no cover - Windows: check the resolved path each time instead
        if create:
            Path(path).mkdir(exist_ok=True)
        if not os.path.isdir(path):
            raise FileNotFoundError(errno.ENOENT, "No such directory", path)
        check_inside(root, Path(path), what)
        return Dir(path, None, root)
    for _ in range(3):
        try:
            return Dir(path, os.open(name, _DIR_FLAGS, dir_fd=parent.fd), root)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=parent.fd)
        except OSError as exc:
            if exc.errno not in _LINK_ERRORS:
                raise
            reason = "is a symbolic link" if parent.is_link(name) else "is not a directory"
            raise _refuse(root, path, what, reason) from None
    raise FileNotFoundError(errno.ENOENT, "The directory keeps disappearing", path)


def _open_root(root: Path, *, create: bool) -> Dir:
    """The root itself may be reached through links: it is what the store was configured with."""
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if not HAVE_DIR_FD:  # pragma: no cover - Windows
        if not root.is_dir():
            raise FileNotFoundError(errno.ENOENT, "No such directory", str(root))
        return Dir(str(root), None, root)
    return Dir(str(root), os.open(root, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC), root)


@contextlib.contextmanager
def _walk(location: SessionLocation, *, create: bool, sync: bool = False) -> Generator[Dir, None, None]:
    """The session's chat directory, reached from the root one directory at a time.

    With ``create``, missing directories and the kept names of hashed parts are made on the way;
    with ``sync``, the root, user and chat directories are fsynced (new entries made durable).
    """
    what = f"the session {location.key!r}"
    opened: list[Dir] = []
    try:
        current = _open_root(location.root, create=create)
        opened.append(current)
        for segment in (location.user, location.chat):
            current = _child(current, segment.name, create=create, root=location.root, what=what)
            opened.append(current)
            if create and segment.sidecar_value is not None:
                _write_sidecar(current, KEY_SIDECAR, segment.sidecar_value)
        if create and location.session.sidecar_value is not None:
            _write_sidecar(current, location.session.name + SIDECAR_SUFFIX, location.session.sidecar_value)
        if sync:
            for directory in opened:
                directory.fsync()
        for directory in opened[:-1]:
            directory.close()
        yield current
    finally:
        for directory in opened:
            directory.close()


def _write_sidecar(directory: Dir, name: str, value: str) -> None:
    """Keep the original value of a hashed name, written once and atomically; verify it otherwise.

    A failure (a full disk) leaves no temporary file behind.
    """
    try:
        kept = _read_file(directory, name)
    except FileNotFoundError:
        temp = f"{name}.{uuid.uuid4().hex}.tmp"
        fd = directory.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            try:
                _io.write_all_sync(fd, value.encode("utf-8", "surrogatepass"))
            finally:
                os.close(fd)
            directory.replace(temp, name)
        except BaseException:
            with contextlib.suppress(OSError):
                directory.unlink(temp)
            raise
        return
    if kept.decode("utf-8", "surrogatepass") != value:
        path = os.path.join(directory.path, name)
        raise CorruptDataError(
            f"{path} keeps the name {kept.decode('utf-8', 'replace')!r:.80}, not {value!r:.80}, although both hash "
            "alike; the file was changed by hand. Restore it or move the directory away.",
            location=path,
        )


def _read_file(directory: Dir, name: str) -> bytes:
    fd = directory.open(name, os.O_RDONLY)
    try:
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _open_for_append_sync(location: SessionLocation, flags: int, sync: bool) -> tuple[int, bool]:
    """Create the directories (and kept names), then open the session file; ``(fd, created)``."""
    name = location.filename
    with _walk(location, create=True, sync=sync) as chat:
        while True:
            try:
                fd = chat.open(name, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                try:
                    return chat.open(name, flags & ~os.O_CREAT), False
                except FileNotFoundError:
                    continue  # deleted in between: create it
            if sync:  # make the new file's directory entry durable (its data is fsynced per append)
                chat.fsync()
            return fd, True


open_for_append: Callable[[SessionLocation, int, bool], Awaitable[tuple[int, bool]]] = aiofiles.os.wrap(
    _open_for_append_sync
)
"""``await open_for_append(location, flags, sync)``: the session file's append descriptor and whether it was created."""


def _open_session_file_sync(location: SessionLocation, flags: int) -> int:
    """Open an existing session file (``FileNotFoundError`` when it or a directory is missing)."""
    with _walk(location, create=False) as chat:
        return chat.open(location.filename, flags)


open_session_file: Callable[[SessionLocation, int], Awaitable[int]] = aiofiles.os.wrap(_open_session_file_sync)


def session_identity(location: SessionLocation) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file the session's path names now, reached without following links.

    ``None`` when it is missing; ``ValueError`` when a directory or the file is a link. Runs on every
    append, so it walks with bare descriptors (the slow path builds the message).
    """
    if not HAVE_DIR_FD:  # pragma: no cover - Windows
        check_inside(location.root, location.path, f"the session {location.key!r}")
        try:
            found = os.stat(location.path, follow_symlinks=False)
        except FileNotFoundError:
            return None
    else:
        try:
            fd = os.open(location.root, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            for name in (location.user.name, location.chat.name):
                inner = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
            found = os.stat(location.filename, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in _LINK_ERRORS:
                raise
            with _walk(location, create=False):  # raises the refusal naming the link
                pass
            raise
        finally:
            os.close(fd)
    if not stat.S_ISREG(found.st_mode):
        reason = "is a symbolic link" if stat.S_ISLNK(found.st_mode) else "is not a regular file"
        raise _refuse(location.root, location.path, f"the session {location.key!r}", reason)
    return (found.st_dev, found.st_ino)


def _open_session_dir_sync(location: SessionLocation) -> Dir:
    with _walk(location, create=False) as chat:
        if chat.fd is None:  # pragma: no cover - Windows
            return Dir(chat.path, None, chat.root)
        return Dir(chat.path, os.dup(chat.fd), chat.root)


open_session_dir: Callable[[SessionLocation], Awaitable[Dir]] = aiofiles.os.wrap(_open_session_dir_sync)
"""``await open_session_dir(location)``: the session's directory, open (``FileNotFoundError`` when missing); the
caller closes it."""


def _read_sidecar(directory: Dir, name: str) -> str | None:
    try:
        return _read_file(directory, name).decode("utf-8", "surrogatepass")
    except (OSError, UnicodeDecodeError):
        return None


def _subdirs(root: Path, directory: Dir, wanted: str | AllPartitions | None) -> list[tuple[Dir, str | None]]:
    """``(dir, user-or-chat)`` for the partition directories of ``directory`` a filter asks for, open."""
    what = "to list sessions"
    if wanted is not ALL:
        assert not isinstance(wanted, AllPartitions)
        name = NONE_SEGMENT if wanted is None else encode_segment(wanted, PARTITION).name
        try:
            return [(_child(directory, name, create=False, root=root, what=what), wanted)]
        except FileNotFoundError:
            return []
    found: list[tuple[Dir, str | None]] = []
    for entry in directory.entries():
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            child = _child(directory, entry.name, create=False, root=root, what=what)
        except (OSError, ValueError) as exc:  # replaced or removed since it was listed
            logger.warning("Not listing %s: %s", os.path.join(directory.path, entry.name), exc)
            continue
        try:
            value = decode_partition(entry.name, _read_sidecar(child, KEY_SIDECAR))
        except UnknownName:
            logger.debug("Ignoring %s: not a directory this store writes.", child.path)
            child.close()
            continue
        found.append((child, value))
    return found


def _walk_sessions(
    root: Path, user: str | AllPartitions | None, chat: str | AllPartitions | None
) -> list[tuple[SessionKey, int]]:
    """Every session file of the partition, with its modification time in nanoseconds."""
    found: list[tuple[SessionKey, int]] = []
    try:
        top = _open_root(root, create=False)
    except FileNotFoundError:
        return found
    try:
        for user_dir, user_value in _subdirs(root, top, user):
            try:
                for chat_dir, chat_value in _subdirs(root, user_dir, chat):
                    try:
                        found.extend(_session_files(chat_dir, user_value, chat_value))
                    finally:
                        chat_dir.close()
            finally:
                user_dir.close()
    finally:
        top.close()
    return found


def _list_keys_sync(root: Path, user: str | AllPartitions | None, chat: str | AllPartitions | None) -> list[SessionKey]:
    return [key for key, _ in _walk_sessions(root, user, chat)]


def _session_files(chat_dir: Dir, user: str | None, chat: str | None) -> list[tuple[SessionKey, int]]:
    found: list[tuple[SessionKey, int]] = []
    for entry in chat_dir.entries():
        if not entry.name.endswith(SUFFIX) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_size == 0:
                continue
            stem = entry.name[: -len(SUFFIX)]
            session_id = session_from_filename(entry.name, _read_sidecar(chat_dir, stem + SIDECAR_SUFFIX))
            found.append((SessionKey(session_id, user=user, chat=chat), info.st_mtime_ns))
        except (OSError, ValueError):
            logger.debug("Ignoring %s: not a session file this store writes.", os.path.join(chat_dir.path, entry.name))
    return found


list_keys: Callable[[Path, str | AllPartitions | None, str | AllPartitions | None], Awaitable[list[SessionKey]]] = (
    aiofiles.os.wrap(_list_keys_sync)
)
"""``await list_keys(root, user, chat)``: the sessions of a partition (``ALL`` widens a field)."""

list_activity: Callable[
    [Path, str | AllPartitions | None, str | AllPartitions | None], Awaitable[list[tuple[SessionKey, int]]]
] = aiofiles.os.wrap(_walk_sessions)
"""``await list_activity(root, user, chat)``: the sessions of a partition with their files' modification times (ns)."""
