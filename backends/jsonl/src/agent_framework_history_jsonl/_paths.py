"""Where a session's file lives: path-safe names for key parts, and the way back from names to keys.

Layout: ``{root}/{user}/{chat}/{session}.jsonl``, where each part is

- the value itself when it is *literal-safe*: 1 to 100 characters from ``a-z 0-9 . _ -``, not starting with
  ``.`` or ``~`` (so never ``.`` or ``..``), not ending with ``.``, and not a Windows device name
  (``con``, ``nul.txt``, ``com1`` …);
- otherwise ``~iso-`` (user, chat) or ``~sid-`` (session) followed by the unpadded, lower-case base32 of
  the value's UTF-8. Base32 in lower case is used rather than base64 because its alphabet has one case,
  so two keys can never share a file on a case-insensitive filesystem (macOS, Windows); for the same
  reason upper-case letters are never literal-safe;
- when that encoding would be longer than 200 characters, ``~isoh-`` / ``~sidh-`` followed by the
  SHA-256 of the value, with the value itself kept beside it (a ``~key`` file inside such a directory,
  ``<stem>.key`` beside such a session file) so listing can give the original key back;
- ``~none`` for a ``None`` user or chat. No real value is ever written as ``~none``: values starting
  with ``~`` are encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent_framework_history.backend import SessionKey

__all__ = [
    "KEY_SIDECAR",
    "NONE_SEGMENT",
    "PARTITION",
    "SESSION",
    "SIDECAR_SUFFIX",
    "SUFFIX",
    "Segment",
    "SegmentKind",
    "SessionLocation",
    "UnknownName",
    "check_inside",
    "decode_partition",
    "decode_segment",
    "encode_segment",
    "is_literal_safe",
    "locate",
    "session_from_filename",
]

NONE_SEGMENT: Final = "~none"
SUFFIX: Final = ".jsonl"
KEY_SIDECAR: Final = "~key"
"""Name of the file that keeps a hashed directory's original value."""
SIDECAR_SUFFIX: Final = ".key"
"""Suffix of the file that keeps a hashed session file's original session id."""

MAX_LITERAL: Final = 100
MAX_ENCODED: Final = 200

_LITERAL_RE: Final = re.compile(r"[a-z0-9_-][a-z0-9._-]*")
_WINDOWS_DEVICES: Final = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)
_B32_RE: Final = re.compile(r"[a-z2-7]+")
_HEX_RE: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class SegmentKind:
    """The prefixes one kind of key part is encoded under."""

    encoded: str
    hashed: str


PARTITION: Final = SegmentKind("~iso-", "~isoh-")
SESSION: Final = SegmentKind("~sid-", "~sidh-")


def is_literal_safe(value: str) -> bool:
    """Whether ``value`` may be used as a file or directory name as it is."""
    return (
        len(value) <= MAX_LITERAL
        and _LITERAL_RE.fullmatch(value) is not None
        and not value.endswith(".")
        and value.split(".", 1)[0] not in _WINDOWS_DEVICES
    )


def _utf8(value: str) -> bytes:
    # surrogatepass: a str holding a lone surrogate is still a valid key and must get a name.
    return value.encode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Segment:
    """One path part: its name, and the value to keep beside it when the name is a hash."""

    name: str
    sidecar_value: str | None = None


def encode_segment(value: str, kind: SegmentKind) -> Segment:
    """The path-safe name of one key part (never ``None``: that is :data:`NONE_SEGMENT`)."""
    if is_literal_safe(value):
        return Segment(value)
    raw = _utf8(value)
    encoded = kind.encoded + base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    if len(encoded) <= MAX_ENCODED:
        return Segment(encoded)
    return Segment(kind.hashed + hashlib.sha256(raw).hexdigest(), sidecar_value=value)


def _partition_segment(value: str | None) -> Segment:
    return Segment(NONE_SEGMENT) if value is None else encode_segment(value, PARTITION)


class UnknownName(ValueError):
    """A name in the store's directory that this backend did not write."""


def decode_segment(name: str, kind: SegmentKind, sidecar: str | None = None) -> str:
    """The key part a name stands for; ``sidecar`` is the kept value of a hashed name.

    Raises :class:`UnknownName` for names this backend never writes (including a hashed name
    whose kept value is missing or does not match the hash).
    """
    if name.startswith(kind.hashed):
        digest = name[len(kind.hashed) :]
        if not _HEX_RE.fullmatch(digest):
            raise UnknownName(name)
        if sidecar is None or hashlib.sha256(_utf8(sidecar)).hexdigest() != digest:
            raise UnknownName(name)
        return sidecar
    if name.startswith(kind.encoded):
        body = name[len(kind.encoded) :]
        if not _B32_RE.fullmatch(body):
            raise UnknownName(name)
        try:
            raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
            value = raw.decode("utf-8", "surrogatepass")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UnknownName(name) from exc
        if encode_segment(value, kind).name != name:  # only the one canonical name counts
            raise UnknownName(name)
        return value
    if is_literal_safe(name):
        return name
    raise UnknownName(name)


def decode_partition(name: str, sidecar: str | None = None) -> str | None:
    """The ``user`` / ``chat`` a directory name stands for (``None`` for ``~none``)."""
    return None if name == NONE_SEGMENT else decode_segment(name, PARTITION, sidecar)


@dataclass(frozen=True, slots=True)
class SessionLocation:
    """The directories and file of one session, checked to lie inside the root."""

    key: SessionKey
    root: Path
    user: Segment
    chat: Segment
    session: Segment

    @property
    def user_dir(self) -> Path:
        return self.root / self.user.name

    @property
    def chat_dir(self) -> Path:
        return self.user_dir / self.chat.name

    @property
    def filename(self) -> str:
        """The session file's name inside :attr:`chat_dir`."""
        return self.session.name + SUFFIX

    @property
    def path(self) -> Path:
        return self.chat_dir / self.filename


def check_inside(root: Path, path: Path, what: str) -> None:
    """Raise ``ValueError`` unless ``path`` (symbolic links resolved) lies strictly inside ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real == real_root or os.path.commonpath([real_root, real]) != real_root:
        raise ValueError(
            f"The jsonl store refuses {what}: {str(path)!r} resolves to {real!r}, outside the store root "
            f"{real_root!r}. Remove the symbolic link that leads out of the root, or choose another root."
        )


def locate(root: Path, key: SessionKey) -> SessionLocation:
    """Where ``key``'s history lives under ``root``; ``ValueError`` if that would leave the root."""
    location = SessionLocation(
        key=key,
        root=root,
        user=_partition_segment(key.user),
        chat=_partition_segment(key.chat),
        session=encode_segment(key.session_id, SESSION),
    )
    check_inside(root, location.path, f"the session {key!r}")
    return location


def session_from_filename(filename: str, sidecar: str | None = None) -> str:
    """The session id a ``*.jsonl`` file name stands for (:class:`UnknownName` if none)."""
    if not filename.endswith(SUFFIX):
        raise UnknownName(filename)
    return decode_segment(filename[: -len(SUFFIX)], SESSION, sidecar)
