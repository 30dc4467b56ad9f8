"""What ``check``, ``scan`` and ``repair`` report about session files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from agent_framework_history.backend import SessionKey

from ._lines import LineProblem

__all__ = ["FileReport", "RepairAction", "RepairResult"]

RepairAction = Literal["none", "truncated", "terminated", "missing"]


@dataclass(frozen=True, slots=True)
class FileReport:
    """The state of one session file, read under a shared lock.

    ``items`` counts the complete items; ``problems`` lists torn and corrupt lines in file
    order. A file that does not exist is reported with ``exists=False`` and no problems.
    """

    key: SessionKey
    path: Path
    exists: bool
    size: int
    items: int
    problems: tuple[LineProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """No torn or corrupt line."""
        return not self.problems

    @property
    def torn(self) -> LineProblem | None:
        """The torn last line, if any (``repair`` fixes it)."""
        return next((p for p in self.problems if p.kind == "torn"), None)

    @property
    def corrupt(self) -> tuple[LineProblem, ...]:
        """Complete lines that are not items (never changed by this library; fix or remove them by hand)."""
        return tuple(p for p in self.problems if p.kind == "corrupt")


@dataclass(frozen=True, slots=True)
class RepairResult:
    """What ``repair`` did to one session file.

    ``"truncated"``: a cut-short last line (``removed_bytes`` long) was removed; ``"terminated"``:
    a last line holding a whole item got its missing newline; ``"none"``: nothing needed doing;
    ``"missing"``: there is no such file.
    """

    key: SessionKey
    path: Path
    action: RepairAction
    removed_bytes: int = 0

    @property
    def description(self) -> str:
        """What was done, in words (``"removed 12 bytes"``)."""
        return _ACTIONS[self.action].format(removed=self.removed_bytes)


_ACTIONS: Final[dict[RepairAction, str]] = {
    "truncated": "removed {removed} bytes",
    "terminated": "the whole item kept, its newline added",
    "none": "already repaired by another writer",
    "missing": "the file is gone",
}
