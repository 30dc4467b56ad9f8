"""Durable ``agent_framework.SessionStore``s with optimistic concurrency, over this project's backends.

A host keeps agent sessions (``AgentSession`` snapshots: the provider state, the chain head) in a
``SessionStore``: ``get`` / ``set`` / ``delete`` by an opaque id. :class:`DurableSessionStore`
implements those three on a backend's versioned records (:class:`SessionRecords`), and refuses a
write based on a stale read — the rule the host's own etag store keeps:

- ``get(id)`` remembers the version it read (or that the id was absent), both for the session
  object it returns and for the store object;
- ``set(id, session)`` writes only if the record is still at the version that session object was
  read at (or, for an object this store did not hand out, the version this store last read or
  wrote; after an absent read, only if still absent); otherwise it raises
  :class:`SessionConflictError` and writes nothing. A ``set`` with neither writes unconditionally;
- ``delete(id)`` removes the record (absent is fine).

:class:`SessionStoreProvider` scopes stores per request for ``ResponsesHostServer``
(``agent_session_store_provider=``): one partition per user, and in a Foundry container one scope
per platform agent session.
"""

from __future__ import annotations

import abc
import weakref
from typing import TYPE_CHECKING, Any, Final

from agent_framework import AgentSession, SessionStore

from ._errors import HistoryStoreError
from ._json import clone_json
from ._keys import SessionKey

if TYPE_CHECKING:
    from azure.ai.agentserver.core import AgentConfig, FoundryAgentRequestContext

__all__ = ["DurableSessionStore", "SessionConflictError", "SessionRecords", "SessionStoreProvider", "Version"]

Version = int
"""A record's version: 1 when created, one more on each write."""

ABSENT: Final = 0
"""The version ``expected`` takes for "the record must not exist yet"."""


class SessionConflictError(HistoryStoreError, RuntimeError):
    """A session write was based on a stale read: another request advanced the session first."""


class SessionRecords(abc.ABC):
    """What a backend offers for session stores: versioned JSON records under ``(scope, id)``.

    ``scope`` is an opaque string (the partition and the platform session, encoded by the caller).
    """

    @abc.abstractmethod
    async def read(self, scope: str, record_id: str) -> tuple[dict[str, Any], Version] | None:
        """The record and its version, or ``None`` when absent."""

    @abc.abstractmethod
    async def write(self, scope: str, record_id: str, value: dict[str, Any], expected: Version | None) -> Version:
        """Write the record and return its new version.

        ``expected``: ``None`` writes unconditionally; :data:`ABSENT` only if the record does not
        exist; a version only if the record is at that version. A mismatch raises
        :class:`SessionConflictError` and writes nothing.
        """

    @abc.abstractmethod
    async def remove(self, scope: str, record_id: str) -> bool:
        """Remove the record; ``True`` when one was removed."""

    async def aclose(self) -> None:
        """Release connections (the default holds none)."""


def scope_of(user: str | None, agent_session: str | None = None) -> str:
    """The opaque scope string of a user partition and an optional platform agent session."""
    if user is not None:
        SessionKey("check", user=user)
    user_part = "-" if user is None else "u:" + user
    return user_part if agent_session is None else f"{user_part}|s:{agent_session}"


class DurableSessionStore(SessionStore):
    """An ``agent_framework.SessionStore`` kept in a backend, with optimistic concurrency.

    One object per request (as ``SessionStoreProvider.get_store`` gives): the versions it read
    decide which writes it may make.
    """

    def __init__(self, records: SessionRecords, *, scope: str = "-") -> None:
        super().__init__()
        self._records = records
        self._scope = scope
        self._seen: dict[str, Version] = {}
        self._read_at: weakref.WeakKeyDictionary[AgentSession, tuple[str, Version]] = weakref.WeakKeyDictionary()

    @property
    def scope(self) -> str:
        return self._scope

    async def get(self, session_id: str) -> AgentSession | None:
        SessionStore.validate_session_id(session_id)
        found = await self._records.read(self._scope, session_id)
        if found is None:
            self._seen[session_id] = ABSENT
            return None
        value, version = found
        self._seen[session_id] = version
        session = AgentSession.from_dict(value)
        self._read_at[session] = (session_id, version)
        return session

    async def set(self, session_id: str, session: AgentSession) -> None:
        SessionStore.validate_session_id(session_id)
        value = clone_json(session.to_dict(), f"session {session_id!r}")
        read = self._read_at.get(session)
        expected = read[1] if read is not None and read[0] == session_id else self._seen.get(session_id)
        try:
            version = await self._records.write(self._scope, session_id, value, expected)
        except SessionConflictError:
            self._seen.pop(session_id, None)
            raise
        self._seen[session_id] = version
        self._read_at[session] = (session_id, version)

    async def delete(self, session_id: str) -> None:
        SessionStore.validate_session_id(session_id)
        await self._records.remove(self._scope, session_id)
        self._seen.pop(session_id, None)


def conflict(scope: str, record_id: str, expected: Version | None) -> SessionConflictError:
    """The error a backend raises when a conditional write finds another version."""
    what = "not to exist yet" if expected == ABSENT else f"to be at version {expected}"
    return SessionConflictError(
        f"Another request advanced agent session {record_id!r} (expected it {what}); "
        "reload it with get() and apply the change again."
    )


class SessionStoreProvider:
    """Gives ``ResponsesHostServer`` a session store per request (``agent_session_store_provider=``).

    Each store is scoped to the request's user (``x-agent-user-id``; none: the anonymous scope)
    and, in a Foundry container, to the platform agent session, so one user's sessions are never
    another's even when they know the id.
    """

    def __init__(self, records: SessionRecords) -> None:
        self._records = records

    @property
    def records(self) -> SessionRecords:
        return self._records

    def get_store(self, *, config: AgentConfig, platform_context: FoundryAgentRequestContext) -> SessionStore:
        user = platform_context.user_id or None
        agent_session = config.session_id if getattr(config, "is_hosted", False) and config.session_id else None
        return DurableSessionStore(self._records, scope=scope_of(user, agent_session))

    async def aclose(self) -> None:
        await self._records.aclose()
