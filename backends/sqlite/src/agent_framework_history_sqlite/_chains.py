"""A session as a chain of turns: the statements behind ``append`` and ``load`` at a head.

Every append that stores at least one item records a turn in ``af_history_turns``:

- ``turn``: 1, 2, 3… per session, in the order the appends committed; the latest turn is the
  highest number, on whichever branch it lies.
- ``head``: what ``append`` hands back, ``turn_`` and 32 random hex digits, unique per session.
  Random, never the number, so a head names one turn of one session and cannot be guessed.
- ``parent``: the number of the turn it continued, ``NULL`` for the first turn of a chain.
- ``branch``: a branch is a linear run of turns. An append at the latest turn of a branch
  continues that branch; an append at an earlier turn (a fork) starts a new branch, whose number
  is the number of its first turn.
- ``last_seq``: the highest ``seq`` of its items.

Item rows carry their ``turn`` and ``branch``, and a ``seq`` counted per session across every
branch, so a turn's items hold consecutive numbers, all above those of every earlier turn.
The chain ending at turn ``T`` is therefore a few segments ``(branch, upto)``: ``T``'s branch up
to ``T``'s ``last_seq``, then the branch ``T``'s branch forked from, up to the turn where it
forked, and so on back to a root: one segment per fork in its ancestry, found by one recursive
query. Each segment's items all come after the items of the segments before it, so reading the
segments oldest first (newest first for a limit) on the ``(session, branch, seq)`` index gives
the chain in order, and ``limit=N`` reads N rows however long the history is.

An item whose id is already in the chain is not stored again: the new ids are looked up on the
``(session, item_id)`` index and a match counts only when it lies inside one of the segments
(the same id on a sibling branch is stored again, in the new turn).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from agent_framework_history.backend import AppendResult

from ._schema import ITEMS, SESSIONS, TURNS, new_head

__all__ = ["Appended", "Partition", "append_rows", "append_turn", "load_after_texts", "load_chain", "load_texts"]

logger = logging.getLogger("agent_framework_history_sqlite")

Partition = tuple[str, str, str]
"""The ``(user, chat, session_id)`` columns of a session key."""

_IDS_PER_QUERY: Final = 500
"""Item ids per ``IN (...)`` lookup, well below SQLite's limit on bound parameters."""


@dataclass(frozen=True, slots=True)
class _Turn:
    number: int
    head: str
    branch: int
    last_seq: int


_LATEST_TURN: Final = f"(SELECT MAX(turn) FROM {TURNS} WHERE session = s.id)"
_BY_KEY: Final = (
    f"SELECT s.id, {{turn}} FROM {SESSIONS} AS s WHERE s.user = :user AND s.chat = :chat AND s.session_id = :session_id"
)

_CHAIN: Final = f"""
WITH RECURSIVE
    start (session, turn) AS ({{start}}),
    chain (session, branch, upto) AS (
        SELECT t.session, t.branch, t.last_seq
        FROM start JOIN {TURNS} AS t ON t.session = start.session AND t.turn = start.turn
        UNION ALL
        SELECT chain.session, fork.branch, fork.last_seq
        FROM chain
        JOIN {TURNS} AS first ON first.session = chain.session AND first.turn = chain.branch
        JOIN {TURNS} AS fork ON fork.session = chain.session AND fork.turn = first.parent AND fork.turn < first.turn
    )
SELECT session, branch, upto FROM chain
"""
"""The segments of a chain, tip first: the walk from the start turn to its root, one step per fork.

A parent always has a lower number than its child; the walk insists on it, so a damaged table whose
parents loop ends the walk instead of running it forever.
"""
_CHAIN_AT_LATEST: Final = _CHAIN.format(start=_BY_KEY.format(turn=_LATEST_TURN))
_CHAIN_AT_HEAD: Final = _CHAIN.format(
    start=_BY_KEY.format(turn=f"(SELECT turn FROM {TURNS} WHERE session = s.id AND head = :head)")
)
_CHAIN_AT_TURN: Final = _CHAIN.format(start="SELECT :session, :turn")

_SEGMENT_ROWS: Final = f"SELECT seq, item FROM {ITEMS} WHERE session = ? AND branch = ? AND seq <= ? ORDER BY seq"
_SEGMENT_TEXTS: Final = f"SELECT item FROM {ITEMS} WHERE session = ? AND branch = ? AND seq <= ? ORDER BY seq"
_SEGMENT_TEXTS_AFTER: Final = (
    f"SELECT item FROM {ITEMS} WHERE session = ? AND branch = ? AND seq > ? AND seq <= ? ORDER BY seq"
)
_SEGMENT_LATEST_ROWS: Final = (
    f"SELECT seq, item FROM {ITEMS} WHERE session = ? AND branch = ? AND seq <= ? ORDER BY seq DESC LIMIT ?"
)

_FIND_SESSION: Final = (
    f"SELECT s.id, t.turn, t.head, t.branch, t.last_seq FROM {SESSIONS} AS s "
    f"LEFT JOIN {TURNS} AS t ON t.session = s.id AND t.turn = {_LATEST_TURN} "
    "WHERE s.user = ? AND s.chat = ? AND s.session_id = ?"
)
_LATEST_OF_SESSION: Final = (
    f"SELECT turn, head, branch, last_seq FROM {TURNS} WHERE session = ? ORDER BY turn DESC LIMIT 1"
)
_NEW_SESSION: Final = f"INSERT INTO {SESSIONS} (user, chat, session_id) VALUES (?, ?, ?)"
_FIND_HEAD: Final = f"SELECT turn, head, branch, last_seq FROM {TURNS} WHERE session = ? AND head = ?"
_BRANCH_END: Final = f"SELECT MAX(seq) FROM {ITEMS} WHERE session = ? AND branch = ?"
_INSERT_ITEM: Final = f"INSERT INTO {ITEMS} (session, seq, turn, branch, item_id, item) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_TURN: Final = f"INSERT INTO {TURNS} (session, turn, head, parent, branch, last_seq) VALUES (?, ?, ?, ?, ?, ?)"


# -- load ---------------------------------------------------------------------------------


def load_texts(conn: sqlite3.Connection, partition: Partition, head: str | None) -> list[object]:
    """The item texts of the whole chain ending at ``head`` (the latest turn when ``None``), oldest first."""
    user, chat, session_id = partition
    params = {"user": user, "chat": chat, "session_id": session_id, "head": head}
    found: list[tuple[int, int, int]] = conn.execute(
        _CHAIN_AT_LATEST if head is None else _CHAIN_AT_HEAD, params
    ).fetchall()
    if not found and head is not None:
        logger.warning("load: %r has no turn with head %r; it names an empty chain.", partition, head)
    texts: list[object] = []
    for session, branch, upto in sorted(found, key=lambda segment: segment[2]):
        texts += [text for (text,) in conn.execute(_SEGMENT_TEXTS, (session, branch, upto))]
    return texts


def load_after_texts(
    conn: sqlite3.Connection, partition: Partition, after: str | None, head: str | None, *, most: int | None = None
) -> tuple[str | None, bool, list[object]] | None:
    """``(tip head, continues, item texts)`` of the chain ending at ``head`` after the turn ``after``.

    ``continues`` tells whether ``after`` lies on the chain (the texts then follow it; otherwise they
    are the whole chain). Run inside one read transaction, so the statements see one state of the file.
    With ``most``, ``None`` when the texts could number more than that (nothing is read then).
    """
    found = conn.execute(_FIND_SESSION, partition).fetchone()
    if found is None or found[1] is None:
        return None, False, []
    session, latest = found[0], _Turn(*found[1:])
    tip = latest if head is None else _find_head(conn, session, head, latest)
    if tip is None:
        return None, False, []
    base = None if after is None else _find_head(conn, session, after, tip)
    if base is not None and base.number == tip.number:
        return tip.head, True, []  # nothing stored after it on this chain
    segments: list[tuple[int, int, int]] = conn.execute(
        _CHAIN_AT_TURN, {"session": session, "turn": tip.number}
    ).fetchall()
    since = 0
    if base is not None and any(branch == base.branch and upto >= base.last_seq for _, branch, upto in segments):
        since = base.last_seq  # the chain's items come in seq order, so what follows the turn is what lies above it
    if most is not None and tip.last_seq - since > most:  # seq is unique in a session: at most this many follow
        return None
    texts: list[object] = []
    for _, branch, upto in sorted(segments, key=lambda segment: segment[2]):
        if upto > since:
            texts += [text for (text,) in conn.execute(_SEGMENT_TEXTS_AFTER, (session, branch, since, upto))]
    return tip.head, since > 0, texts


def load_chain(
    conn: sqlite3.Connection, partition: Partition, head: str | None, limit: int | None
) -> list[tuple[int, object]]:
    """The ``(seq, item text)`` rows of the chain ending at ``head`` (the latest turn when ``None``).

    Oldest first; the latest ``limit`` of them when given. An unknown head gives ``[]``.
    """
    user, chat, session_id = partition
    params = {"user": user, "chat": chat, "session_id": session_id, "head": head}
    found: list[tuple[int, int, int]] = conn.execute(
        _CHAIN_AT_LATEST if head is None else _CHAIN_AT_HEAD, params
    ).fetchall()
    if not found:
        if head is not None:
            logger.warning("load: %r has no turn with head %r; it names an empty chain.", partition, head)
        return []
    segments = sorted(found, key=lambda segment: segment[2], reverse=True)  # the tip's segment first
    if limit is not None and limit >= segments[0][2]:
        limit = None  # seq counts from 1, so the chain holds at most its tip's last_seq items
    rows: list[tuple[int, object]] = []
    if limit is None:
        for session, branch, upto in reversed(segments):
            rows += conn.execute(_SEGMENT_ROWS, (session, branch, upto)).fetchall()
        return rows
    for session, branch, upto in segments:
        rows += conn.execute(_SEGMENT_LATEST_ROWS, (session, branch, upto, limit - len(rows))).fetchall()
        if len(rows) >= limit:
            break
    rows.reverse()
    return rows


# -- append -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appended:
    """What :func:`append_rows` did: the session's row id, the items stored, the head, the first new ``seq``."""

    session: int
    stored: int
    head: str | None
    first_seq: int | None


def append_turn(
    conn: sqlite3.Connection, partition: Partition, rows: Sequence[tuple[str, str]], head: str | None
) -> AppendResult:
    """Record one turn holding the ``(item_id, text)`` rows not yet in the chain ending at ``head``.

    Runs inside the caller's write transaction. ``rows`` holds no id twice.
    """
    appended = append_rows(conn, partition, None, rows, head)
    return AppendResult(stored=appended.stored, head=appended.head)


def append_rows(
    conn: sqlite3.Connection,
    partition: Partition,
    session: int | None,
    rows: Sequence[tuple[str, str]],
    head: str | None,
) -> Appended:
    """:func:`append_turn`, for a caller that may know the session's row id already (``session``).

    ``partition`` names the session when ``session`` is ``None`` (created when missing); with a row
    id it only names it in messages.
    """
    where: object = partition if session is None else f"session row {session}"
    if session is None:
        found = conn.execute(_FIND_SESSION, partition).fetchone()
        if found is None:
            created = conn.execute(_NEW_SESSION, partition).lastrowid
            assert created is not None  # an INSERT into a rowid table always sets it
            session, latest = created, None
        else:
            session = int(found[0])
            latest = None if found[1] is None else _Turn(*found[1:])
    else:
        last = conn.execute(_LATEST_OF_SESSION, (session,)).fetchone()
        latest = None if last is None else _Turn(*last)
    parent = latest if head is None else _find_head(conn, session, head, latest)
    if head is not None and parent is None:
        logger.warning("append: %r has no turn with head %r; starting a new chain.", where, head)
    fresh = list(rows)
    if parent is not None:
        known = _ids_in_chain(conn, session, parent, [item_id for item_id, _ in rows])
        fresh = [row for row in rows if row[0] not in known]
    if not fresh:
        return Appended(session, 0, None if parent is None else parent.head, None)
    number = 1 if latest is None else latest.number + 1
    first_seq = 1 if latest is None else latest.last_seq + 1
    branch = parent.branch if parent is not None and _ends_its_branch(conn, session, parent, latest) else number
    conn.executemany(
        _INSERT_ITEM,
        [(session, seq, number, branch, item_id, text) for seq, (item_id, text) in enumerate(fresh, first_seq)],
    )
    new = new_head()
    last_seq = first_seq + len(fresh) - 1
    conn.execute(_INSERT_TURN, (session, number, new, None if parent is None else parent.number, branch, last_seq))
    return Appended(session, len(fresh), new, first_seq)


def _find_head(conn: sqlite3.Connection, session: int, head: str, latest: _Turn | None) -> _Turn | None:
    if latest is not None and latest.head == head:
        return latest
    found = conn.execute(_FIND_HEAD, (session, head)).fetchone()
    return None if found is None else _Turn(*found)


def _ends_its_branch(conn: sqlite3.Connection, session: int, turn: _Turn, latest: _Turn | None) -> bool:
    """Whether no later turn continues ``turn``'s branch (so a new turn after it extends the branch)."""
    if latest is not None and turn.number == latest.number:
        return True
    (end,) = conn.execute(_BRANCH_END, (session, turn.branch)).fetchone()
    return bool(end == turn.last_seq)


def _ids_in_chain(conn: sqlite3.Connection, session: int, tip: _Turn, ids: list[str]) -> set[str]:
    """Which of ``ids`` are stored in the chain ending at ``tip``."""
    matches: list[tuple[str, int, int]] = []
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT item_id, branch, seq FROM {ITEMS} WHERE session = ? AND item_id IN ({marks})"
        matches += conn.execute(query, (session, *chunk)).fetchall()
    if not matches:
        return set()
    segments = conn.execute(_CHAIN_AT_TURN, {"session": session, "turn": tip.number}).fetchall()
    upto = {branch: last for _, branch, last in segments}
    return {item_id for item_id, branch, seq in matches if branch in upto and seq <= upto[branch]}


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for first in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[first : first + _IDS_PER_QUERY]
