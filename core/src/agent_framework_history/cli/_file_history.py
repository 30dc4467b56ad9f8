"""Reading an ``agent_framework.FileHistoryProvider`` directory as a migration source.

Files are read by ``FileHistoryProvider`` itself (JSON Lines or MessagePack) and its messages
converted with :func:`agent_framework_history.conversion.to_items`; ids are derived
deterministically, so migrating the same directory twice stores nothing new.
"""

from __future__ import annotations

import base64
import binascii
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from agent_framework import FileHistoryProvider

from .._errors import ConfigurationError
from .._keys import SessionKey
from .._store import Item
from .._target import local_path, parse_target
from ..conversion import to_items
from ._errors import CliError

__all__ = ["SCHEME", "FileHistorySource", "is_file_history"]

SCHEME: Final = "file-history"
_ENCODED_PREFIX: Final = "~session-"
_FORMATS: Final[dict[str, Literal["json", "msgpack"]]] = {".jsonl": "json", ".msgpack": "msgpack"}


def is_file_history(target: str) -> bool:
    return target.lower().startswith(f"{SCHEME}://")


def _directory(target: str) -> Path:
    """The directory a ``file-history://`` URL names, read like ``jsonl://`` URLs (see :func:`local_path`).

    ``file-history:///abs/dir`` is absolute; ``file-history://./dir`` and ``file-history:///./dir``
    are relative to the working directory.
    """
    forms = "write file-history:///absolute/dir or file-history://./relative/dir"
    try:
        parsed = parse_target(target)
        if parsed.options or parsed.fragment:
            raise CliError(f"Cannot read {target!r}: file-history:// URLs take no query or fragment; {forms}.")
        raw = local_path(parsed, default=None, forms=f"To migrate from a FileHistoryProvider directory, {forms}.")
    except ConfigurationError as exc:
        raise CliError(str(exc)) from exc
    if raw == "/":
        raise CliError(f"{target!r} names no directory; {forms}.")
    path = Path(raw)
    if not path.is_dir():
        raise CliError(f"{target!r}: {str(path)!r} is not a directory.")
    return path


def _session_id(stem: str) -> str | None:
    """The session id a FileHistoryProvider file name stands for, or ``None`` when it is a hash."""
    if not stem.startswith(_ENCODED_PREFIX):
        return stem
    encoded = stem[len(_ENCODED_PREFIX) :]
    try:
        return base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    session_id: str
    provider: FileHistoryProvider


class FileHistorySource:
    """The sessions of one FileHistoryProvider directory, placed in the partition (user, chat)."""

    def __init__(self, target: str, *, user: str | None = None, chat: str | None = None) -> None:
        self.target = target
        self.directory = _directory(target)
        self.user = user
        self.chat = chat
        self.skipped: list[str] = []
        with warnings.catch_warnings():  # it warns that it is experimental; reading it here is what the user asked
            warnings.simplefilter("ignore")
            providers = {
                fmt: FileHistoryProvider(self.directory, serialization_format=fmt)
                for fmt in sorted(set(_FORMATS.values()))
            }
        self._files: dict[SessionKey, _File] = {}
        for path in sorted(self.directory.iterdir()):
            fmt = _FORMATS.get(path.suffix)
            if fmt is None or not path.is_file():
                continue
            provider = providers[fmt]
            session_id = _session_id(path.stem)
            if session_id is None or provider._session_file_path(session_id) != path.resolve():
                self.skipped.append(
                    f"{path.name}: the session id cannot be recovered from this file name (FileHistoryProvider "
                    "stores very long ids as a hash); copy it by hand with its own id"
                )
                continue
            key = SessionKey(session_id, user=user, chat=chat)
            if key in self._files:
                self.skipped.append(f"{path.name}: session {session_id!r} also has a {self._files[key].path.name} file")
                continue
            self._files[key] = _File(path, session_id, provider)

    def sessions(self) -> list[SessionKey]:
        return list(self._files)

    async def load(self, key: SessionKey) -> list[Item]:
        entry = self._files[key]
        try:
            messages = await entry.provider.get_messages(entry.session_id)
        except ValueError as exc:
            raise CliError(f"Cannot read {str(entry.path)!r} with FileHistoryProvider: {exc}") from exc
        return to_items(messages)
