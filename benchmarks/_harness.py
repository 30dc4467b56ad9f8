"""Timing helpers and the tables the benchmark runner prints."""

from __future__ import annotations

import json
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
    curve: list[tuple[int, float]] = field(default_factory=lambda: [])
    """Per-turn cost as the history grows: (turns stored so far, µs per turn over the last stretch)."""

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


class Checkpoints:
    """Cumulative time at about ``points`` evenly spaced turns, turned into per-turn cost per stretch."""

    def __init__(self, turns: int, points: int = 20) -> None:
        self.every = max(1, turns // points)
        self.start = time.perf_counter()
        self.last_turn = 0
        self.last_time = self.start
        self.curve: list[tuple[int, float]] = []

    def tick(self, done: int) -> None:
        """Call after each turn with the number of turns stored so far."""
        if done % self.every:
            return
        now = time.perf_counter()
        self.curve.append((done, (now - self.last_time) / (done - self.last_turn) * 1e6))
        self.last_turn, self.last_time = done, now


def write_plot(rows: list[Row], path: Path, *, turns: int) -> Path | None:
    """Per-turn cost against history length for the rows that recorded a curve; returns the PNG written.

    The numbers go next to it as JSON (same name, ``.json``).
    """
    rows = [row for row in rows if row.curve]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 6.5), dpi=110)
    colours = plt.get_cmap("tab10")
    backends = [row for row in rows if row.kind != "anchor"]
    anchors = [row for row in rows if row.kind == "anchor"]
    for group, style, marker in ((backends, "-", "o"), (anchors, "--", "s")):
        for index, row in enumerate(group):
            axes.plot(
                [2 * done for done, _ in row.curve],
                [cost for _, cost in row.curve],
                style,
                marker=marker,
                markersize=3,
                color=colours(index % 10),
                label=f"{row.name}" + (" (anchor)" if row.kind == "anchor" else ""),
            )
    axes.set_yscale("log")
    axes.set_xlabel("messages already in the session")
    axes.set_ylabel("µs per turn (one user + one assistant message), log scale")
    axes.set_title(f"Cost of saving one turn as the history grows ({turns} turns, one session)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="solid: backends, dashed: anchors")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    data = {row.name: {"kind": row.kind, "turns_done_and_us_per_turn": row.curve} for row in rows}
    path.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


#: The docs table of per-turn cost: which plot points make "early" and "late" (stretches two to four, the last three).
EARLY = slice(1, 4)
LATE = slice(-3, None)
#: A subject whose late cost is at most this many times its early cost is called flat.
FLAT = 1.25
#: What a reader needs to know about a subject beyond its numbers (keyed by the name in the JSON).
SUBJECT_NOTES = {
    "postgres": "server on the same machine; one round trip per turn",
    "foundry (SDK in-memory provider)": "every turn's `create_response` carries the whole chain's item ids, "
    "as the service requires",
    "FileHistoryProvider": "each save re-reads the session file",
    "InMemoryHistoryProvider": "each save compares against the stored messages",
    "raw json.dumps + append": "the floor",
}
TABLE_START = "<!-- per-turn table: generated by benchmarks/run.py from docs/img/bench-per-turn.json -->"
TABLE_END = "<!-- end of the generated per-turn table -->"


def _mean(points: list[list[float]] | list[tuple[int, float]]) -> float:
    return statistics.mean(cost for _, cost in points)


def _messages(points: list[list[float]] | list[tuple[int, float]]) -> str:
    return f"{2 * int(points[0][0]):,}\u2013{2 * int(points[-1][0]):,}"  # an en dash


def per_turn_table(data: dict[str, dict[str, object]]) -> str:
    """The markdown table of early and late per-turn cost, from the JSON ``write_plot`` writes."""
    curves = {name: entry["turns_done_and_us_per_turn"] for name, entry in data.items()}
    ordered = [n for n in data if data[n]["kind"] != "anchor"] + [n for n in data if data[n]["kind"] == "anchor"]
    first: list[list[float]] = curves[ordered[0]]  # type: ignore[assignment]
    turns = int(first[-1][0])
    lines = [
        f"From one run of {turns:,} turns in one session. Flat: the late cost is at most {FLAT:g} times the early.",
        "",
        f"| subject | early ({_messages(first[EARLY])} messages) | late ({_messages(first[LATE])} messages) "
        "| late ÷ early | |",
        "|---|---:|---:|---:|---|",
    ]
    for name in ordered:
        curve: list[list[float]] = curves[name]  # type: ignore[assignment]
        early, late = _mean(curve[EARLY]), _mean(curve[LATE])
        ratio = late / early
        shape = "flat" if ratio <= FLAT else "grows"
        note = SUBJECT_NOTES.get(name)
        label = f"{name} (anchor)" if data[name]["kind"] == "anchor" else name
        lines.append(f"| {label} | {early:,.0f} | {late:,.0f} | {ratio:.2f} | {shape}{': ' + note if note else ''} |")
    return "\n".join(lines) + "\n"


def write_docs_table(json_path: Path, docs_path: Path) -> bool:
    """Replace the marked table in ``docs_path`` with the one ``json_path`` gives; whether it changed."""
    table = per_turn_table(json.loads(json_path.read_text(encoding="utf-8")))
    text = docs_path.read_text(encoding="utf-8")
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"{docs_path} has no generated-table markers ({TABLE_START} … {TABLE_END}); add them back.")
    updated = text[: start + len(TABLE_START)] + "\n" + table + text[end:]
    if updated != text:
        docs_path.write_text(updated, encoding="utf-8")
    return updated != text


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
