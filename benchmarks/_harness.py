"""Timing helpers and the tables the benchmark runner prints."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(width=180)

#: Short column labels for the anchors.
SHORT = {
    "FileHistoryProvider": "FileHist",
    "InMemoryHistoryProvider": "InMemHist",
    "FileResponseStore": "SDK file",
    "InMemoryResponseProvider": "SDK mem",
    "raw json.dumps + append": "raw",
}


@dataclass
class Row:
    """One subject's numbers for the main workload."""

    name: str
    kind: str  # "backend" or "anchor"
    turns: int
    append_s: float
    load_all_s: float | None = None
    load_20_s: float | None = None
    note: str = ""

    @property
    def per_turn_us(self) -> float:
        return self.append_s / self.turns * 1e6


@dataclass
class Check:
    """A speed target from an issue, measured in this run."""

    what: str
    measured: float
    target: float
    unit: str
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        return self.measured >= self.target if self.higher_is_better else self.measured <= self.target


@dataclass
class Report:
    rows: list[Row] = field(default_factory=lambda: [])
    checks: list[Check] = field(default_factory=lambda: [])
    notes: list[str] = field(default_factory=lambda: [])


@dataclass
class Context:
    """What a benchmark section gets: the report to add to, a scratch directory, the workload size."""

    report: Report
    tmp: Path
    turns: int


async def best_of(repeats: int, fn: Callable[[], Awaitable[object]]) -> float:
    """Median wall time of ``repeats`` awaited calls, in seconds."""
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fmt_ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.2f}"


def print_report(report: Report, anchors: list[str]) -> None:
    by_name = {row.name: row for row in report.rows}
    table = Table(title="Per-turn append cost (user + assistant message) and load latency, one run")
    table.add_column("subject")
    table.add_column("kind")
    table.add_column("turns", justify="right")
    table.add_column("µs / turn", justify="right")
    table.add_column("load() ms", justify="right")
    table.add_column("load(20) ms", justify="right")
    for anchor in anchors:
        if anchor in by_name:
            table.add_column(f"÷ {SHORT.get(anchor, anchor)}", justify="right")
    for row in report.rows:
        ratios = [f"{row.per_turn_us / by_name[a].per_turn_us:.3g}" for a in anchors if a in by_name]
        table.add_row(
            row.name,
            row.kind,
            str(row.turns),
            f"{row.per_turn_us:.1f}",
            _fmt_ms(row.load_all_s),
            _fmt_ms(row.load_20_s),
            *ratios,
        )
    console.print(table)
    console.print("Ratios are this subject's per-turn cost divided by the anchor's (below 1 = faster than the anchor).")
    if report.checks:
        checks = Table(title="Targets from the issues, measured in this run")
        checks.add_column("target")
        checks.add_column("measured", justify="right")
        checks.add_column("goal", justify="right")
        checks.add_column("met")
        for check in report.checks:
            sign = "≥" if check.higher_is_better else "≤"
            checks.add_row(
                check.what,
                f"{check.measured:.3g} {check.unit}",
                f"{sign} {check.target:g} {check.unit}",
                "yes" if check.met else "NO",
            )
        console.print(checks)
    for note in report.notes:
        console.print(note)
