"""Benchmark runner: every installed backend and the anchors, same workload, one run.

nox -s bench                      # default sizes
nox -s bench -- --turns 500       # quicker
nox -s bench -- --only sqlite     # one section (plus the anchors)
nox -s bench -- --plot out.png    # where the per-turn-cost plot goes (default docs/img/bench-per-turn.png)
nox -s bench -- --table-only      # only rewrite the docs table from docs/img/bench-per-turn.json

A full run (every section, the default number of turns) writes the docs' plot, its numbers
(docs/img/bench-per-turn.json) and rewrites the per-turn table of docs/benchmarks.md from them, so the table
and the plot always come from the same run. A partial run (--only, --turns) leaves the docs alone: its plot
goes to ./bench-per-turn.png unless --plot says where.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _harness import Context, Report, console, print_report, write_docs_table, write_plot  # noqa: E402
from workloads import (  # noqa: E402
    run_backend,
    run_file_history,
    run_in_memory_history,
    run_raw_append,
    run_sdk_store,
)

from agent_framework_history import available_backends  # noqa: E402

DEFAULT_PLOT = HERE.parent / "docs" / "img" / "bench-per-turn.png"
DOCS_PAGE = HERE.parent / "docs" / "benchmarks.md"

ANCHORS = [
    "FileHistoryProvider",
    "InMemoryHistoryProvider",
    "FileResponseStore",
    "InMemoryResponseProvider",
    "raw json.dumps + append",
]


def sections() -> list[ModuleType]:
    return [
        importlib.import_module(f"sections.{path.stem}")
        for path in sorted((HERE / "sections").glob("*.py"))
        if path.stem != "__init__"
    ]


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000, help="turns in the shared workload (default 2000)")
    parser.add_argument("--only", action="append", default=[], help="run only these sections (repeatable)")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="PNG of per-turn cost against history length (default: docs/img/bench-per-turn.png for a full run, "
        "./bench-per-turn.png for a partial one)",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write the plot")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="run nothing: rewrite the table in docs/benchmarks.md from docs/img/bench-per-turn.json",
    )
    args = parser.parse_args(argv)
    if args.table_only:
        changed = write_docs_table(DEFAULT_PLOT.with_suffix(".json"), DOCS_PAGE)
        console.print(f"{DOCS_PAGE}: {'table rewritten' if changed else 'table already up to date'}.")
        return 0
    turns: int = args.turns
    full_run = not args.only and turns == parser.get_default("turns")
    plot: Path = args.plot if args.plot is not None else DEFAULT_PLOT if full_run else Path("bench-per-turn.png")
    report = Report()
    installed = {info.name for info in available_backends() if info.ok}
    with tempfile.TemporaryDirectory(prefix="af-history-bench-") as tmpdir:
        tmp = Path(tmpdir)
        ctx = Context(report=report, tmp=tmp, turns=turns)
        chosen = [m for m in sections() if not args.only or m.__name__.split(".")[-1] in args.only]
        for module in chosen:
            name: str | None = getattr(module, "NAME", None)
            if name is not None and name not in installed:
                report.notes.append(f"backend {name}: not installed, skipped")
                continue
            target_for = getattr(module, "target", None)
            url = target_for(tmp) if target_for is not None else None
            if name is not None and url is not None:
                console.print(f"[dim]running backend {name} ({turns} turns)…[/dim]")
                report.rows.append(await run_backend(name, url, turns))
            extra = getattr(module, "run", None)
            if extra is not None:
                console.print(f"[dim]running section {module.__name__.split('.')[-1]}…[/dim]")
                await extra(ctx)

        console.print("[dim]running anchors…[/dim]")
        report.rows.append(await run_file_history(tmp, turns))
        report.rows.append(await run_in_memory_history(turns))
        from azure.ai.agentserver.responses import FileResponseStore, InMemoryResponseProvider

        report.rows.append(await run_sdk_store("FileResponseStore", FileResponseStore(tmp / "sdk-file"), turns))
        report.rows.append(await run_sdk_store("InMemoryResponseProvider", InMemoryResponseProvider(), turns))
        report.rows.append(await run_raw_append(tmp, turns))
    print_report(report, ANCHORS)
    if not args.no_plot:
        same_workload = [row for row in report.rows if row.turns == turns]  # every backend and anchor, one session
        written = write_plot(same_workload, plot, turns=turns)
        if written is not None:
            console.print(f"Plot of per-turn cost against history length: {written}")
            if written.resolve() == DEFAULT_PLOT.resolve():  # the docs' plot: their table follows it
                write_docs_table(written.with_suffix(".json"), DOCS_PAGE)
                console.print(f"Per-turn table of {DOCS_PAGE} rewritten from {written.with_suffix('.json')}.")
    return 0 if all(check.met for check in report.checks) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
