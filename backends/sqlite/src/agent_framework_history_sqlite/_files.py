"""Where a store's database file is, and whether this process may write to it.

Nothing here opens the file: closing any descriptor of a database file would drop the POSIX
locks SQLite holds on it for other connections of this process. Writability is asked of the
kernel with ``access(2)`` (``os.access``), which answers for the effective user and, for root as
for everyone, says no on a read-only mount or for an immutable file (``chattr +i``); plain
permission bits do not stop root, and rightly so, since root can then write.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent_framework_history.backend import ConfigurationError

from ._config import SQLiteConfig

__all__ = ["exists", "locate", "make_parent", "read_only_reason", "wal_file"]


def locate(config: SQLiteConfig) -> Path | None:
    """The database file as an absolute path (``None`` in memory), checked to be usable as one."""
    if config.in_memory:
        return None
    try:
        file = Path(config.path).expanduser()
    except RuntimeError as exc:  # "~name" of a user that does not exist, or no home directory
        raise ConfigurationError(
            f"Cannot expand '~' in the SQLite path {config.path!r} ({exc}); write the whole path instead, "
            "such as sqlite:////home/name/history.db."
        ) from None
    try:
        file = file.absolute()
        if file.is_dir():
            raise ConfigurationError(
                f"The SQLite path {config.path!r} is a directory; name a file in it, such as "
                f"{str(file / 'history.db')!r}."
            )
    except OSError as exc:
        raise ConfigurationError(f"Cannot use the SQLite path {config.path!r}: {exc.strerror or exc}.") from None
    return file


def exists(file: Path, where: str) -> bool:
    """Whether ``file`` exists; a ``ConfigurationError`` when the system will not say (no permission)."""
    try:
        return file.exists()
    except OSError as exc:
        raise ConfigurationError(f"Cannot look at {where}: {exc.strerror or exc}.") from None


def make_parent(file: Path, where: str) -> None:
    """Create the missing directories above ``file``; a ``ConfigurationError`` says why it cannot be."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"Cannot create the directory {str(file.parent)!r} for {where}: {exc}.") from exc
    if not _writable(file.parent):
        raise ConfigurationError(
            f"Cannot create {where}: its directory {str(file.parent)!r} is not writable"
            f"{_read_only_mount(file.parent)}. Choose a writable place, or create the database elsewhere and copy it."
        )


def read_only_reason(file: Path) -> str | None:
    """Why this process cannot write the existing database ``file``, or ``None`` when it can."""
    if not _writable(file):
        return f"the file is not writable{_read_only_mount(file)}"
    if not _writable(file.parent):
        return (
            f"its directory {str(file.parent)!r} is not writable{_read_only_mount(file.parent)}, and SQLite "
            f"writes {file.name}-wal and {file.name}-shm beside the database"
        )
    return None


def wal_file(file: Path) -> Path:
    """The write-ahead log SQLite keeps beside ``file``."""
    return file.with_name(file.name + "-wal")


def _writable(path: Path) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK, effective_ids=True)
    return os.access(path, os.W_OK)  # pragma: no cover - platforms without faccessat


def _read_only_mount(path: Path) -> str:
    statvfs = getattr(os, "statvfs", None)
    if statvfs is None:  # pragma: no cover - Windows
        return ""
    try:
        read_only = bool(statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return ""
    return " (it is on a read-only file system)" if read_only else ""
