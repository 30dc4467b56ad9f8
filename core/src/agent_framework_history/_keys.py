"""Session keys: which conversation, inside which isolation partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._errors import InvalidArgumentError

__all__ = ["ALL", "AllPartitions", "SessionKey", "check_partition_value"]

_MAX_KEY_LENGTH: Final = 1024


class AllPartitions:
    """Type of :data:`ALL`, the wildcard accepted only by ``list_sessions``."""

    _instance: AllPartitions | None = None

    def __new__(cls) -> AllPartitions:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ALL"


ALL: Final = AllPartitions()
"""Pass as ``user`` or ``chat`` to ``list_sessions`` to list every partition of that field."""


def _check_text(field: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise InvalidArgumentError(f"SessionKey.{field} must be {kind}, got {type(value).__name__} {value!r}.")
    if not value:
        hint = " (use None for the anonymous partition)" if optional else ""
        raise InvalidArgumentError(f"SessionKey.{field} must not be empty{hint}.")
    if len(value) > _MAX_KEY_LENGTH:
        raise InvalidArgumentError(
            f"SessionKey.{field} is {len(value)} characters long; the limit is {_MAX_KEY_LENGTH}."
        )
    if "\x00" in value:
        raise InvalidArgumentError(f"SessionKey.{field} must not contain NUL characters: {value!r}.")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"SessionKey.{field} holds a lone surrogate {value[exc.start]!r} at character {exc.start} "
                f"({value[:60]!r}); UTF-8 cannot store it. Use valid Unicode text."
            ) from None


def check_partition_value(field: str, value: object) -> None:
    """Validate a ``user`` / ``chat`` filter: a key value, ``None`` or :data:`ALL`."""
    if value is ALL:
        return
    _check_text(field, value, optional=True)


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Names one conversation history.

    ``user`` and ``chat`` form the isolation partition: histories under different
    ``(user, chat)`` pairs never see each other, and ``None`` is a partition of its own
    (the anonymous one), never a wildcard.

    >>> SessionKey("s1", user="alice")
    SessionKey(session_id='s1', user='alice', chat=None)
    """

    session_id: str
    user: str | None = None
    chat: str | None = None

    def __post_init__(self) -> None:
        _check_text("session_id", self.session_id, optional=False)
        _check_text("user", self.user, optional=True)
        _check_text("chat", self.chat, optional=True)

    @property
    def partition(self) -> tuple[str | None, str | None]:
        """The ``(user, chat)`` isolation partition."""
        return (self.user, self.chat)

    def matches(self, user: str | AllPartitions | None, chat: str | AllPartitions | None) -> bool:
        """Whether this key lies in the partition a ``list_sessions`` filter asks for."""
        return (user is ALL or user == self.user) and (chat is ALL or chat == self.chat)
