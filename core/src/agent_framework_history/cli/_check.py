"""``af-history check``: does every session of a store load, and is what it holds well formed?"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import CorruptDataError, HistoryStoreError
from .._keys import ALL, SessionKey
from .._store import HistoryStore
from ._stores import collect_sessions

__all__ = ["CheckReport", "Problem", "check_sessions"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a store: where (a session, file or line) and what."""

    where: str
    what: str
    repairable: bool = False


@dataclass(slots=True)
class CheckReport:
    sessions: int = 0
    items: int = 0
    problems: list[Problem] = field(default_factory=lambda: [])
    repaired: list[str] = field(default_factory=lambda: [])

    @property
    def ok(self) -> bool:
        return not self.problems


def _label(key: SessionKey) -> str:
    return f"session {key.session_id!r} (user={key.user!r}, chat={key.chat!r})"


async def check_sessions(store: HistoryStore, *, label: str) -> CheckReport:
    """Load every session of every partition; report load errors, items without type/id and repeated ids."""
    report = CheckReport()
    keys = await collect_sessions(store, (ALL, ALL), label=label)
    report.sessions = len(keys)
    for key in keys:
        try:
            items = await store.load(key)
        except (HistoryStoreError, ValueError, OSError) as exc:
            where = _label(key)
            if isinstance(exc, CorruptDataError) and exc.location:
                where = f"{where} at {exc.location}"
            report.problems.append(Problem(where, f"does not load: {type(exc).__name__}: {exc}"))
            continue
        report.items += len(items)
        seen: set[str] = set()
        for index, item in enumerate(items):
            item_id = item.get("id")
            if not isinstance(item.get("type"), str) or not isinstance(item_id, str) or not item_id:
                report.problems.append(Problem(_label(key), f"item {index} has no string 'type' and 'id'"))
            elif item_id in seen:
                report.problems.append(Problem(_label(key), f"item {index} repeats the id {item_id!r}"))
            else:
                seen.add(item_id)
    return report
