"""Directories, kept names of hashed parts, and listing: synchronous work run in aiofiles' thread pool."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import aiofiles.os

from agent_framework_history import ALL, AllPartitions, CorruptDataError, SessionKey

from ._io import write_all_sync
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

__all__ = ["FILE_MODE", "O_BINARY", "O_CLOEXEC", "O_NOFOLLOW", "list_keys", "prepare_dirs"]

logger = logging.getLogger("agent_framework_history.jsonl")

FILE_MODE: Final = 0o600
"""Histories hold private conversations: new files are readable by their owner only (before the umask)."""
O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
O_BINARY: Final = getattr(os, "O_BINARY", 0)


def _write_sidecar(path: Path, value: str) -> None:
    """Keep the original value of a hashed name, written once and atomically; verify it otherwise."""
    try:
        kept = path.read_bytes().decode("utf-8", "surrogatepass")
    except FileNotFoundError:
        temp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_CLOEXEC | O_BINARY, FILE_MODE)
        try:
            write_all_sync(fd, value.encode("utf-8", "surrogatepass"))
        finally:
            os.close(fd)
        os.replace(temp, path)
        return
    if kept != value:
        raise CorruptDataError(
            f"{path} keeps the name {kept!r:.80}, not {value!r:.80}, although both hash alike; "
            "the file was changed by hand. Restore it or move the directory away.",
            location=str(path),
        )


def _prepare_dirs_sync(location: SessionLocation, sync: bool) -> None:
    location.chat_dir.mkdir(parents=True, exist_ok=True)
    check_inside(location.root, location.chat_dir, f"the directory of session {location.key!r}")
    for path, value in location.sidecars():
        _write_sidecar(path, value)
    if sync:
        for directory in (location.root, location.user_dir, location.chat_dir):
            _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be opened for fsync on Windows
        return
    fd = os.open(directory, os.O_RDONLY | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


prepare_dirs: Callable[[SessionLocation, bool], Awaitable[None]] = aiofiles.os.wrap(_prepare_dirs_sync)


def _read_sidecar(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "surrogatepass")
    except (OSError, UnicodeDecodeError):
        return None


def _subdirs(directory: Path, wanted: str | AllPartitions | None) -> list[tuple[Path, str | None]]:
    """``(dir, user-or-chat)`` for the partition directories of ``directory`` a filter asks for."""
    if wanted is not ALL:
        assert not isinstance(wanted, AllPartitions)
        name = NONE_SEGMENT if wanted is None else encode_segment(wanted, PARTITION).name
        path = directory / name
        return [(path, wanted)] if path.is_dir() else []
    found: list[tuple[Path, str | None]] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        try:
            value = decode_partition(entry.name, _read_sidecar(path / KEY_SIDECAR))
        except UnknownName:
            logger.debug("Ignoring %s: not a directory this store writes.", path)
            continue
        found.append((path, value))
    return found


def _list_keys_sync(root: Path, user: str | AllPartitions | None, chat: str | AllPartitions | None) -> list[SessionKey]:
    keys: list[SessionKey] = []
    for user_dir, user_value in _subdirs(root, user):
        for chat_dir, chat_value in _subdirs(user_dir, chat):
            try:
                entries = list(os.scandir(chat_dir))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.name.endswith(SUFFIX) or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_size == 0:
                        continue
                    stem = entry.name[: -len(SUFFIX)]
                    session_id = session_from_filename(entry.name, _read_sidecar(chat_dir / (stem + SIDECAR_SUFFIX)))
                    keys.append(SessionKey(session_id, user=user_value, chat=chat_value))
                except (OSError, ValueError):
                    logger.debug("Ignoring %s: not a session file this store writes.", entry.path)
    return keys


list_keys: Callable[[Path, str | AllPartitions | None, str | AllPartitions | None], Awaitable[list[SessionKey]]] = (
    aiofiles.os.wrap(_list_keys_sync)
)
