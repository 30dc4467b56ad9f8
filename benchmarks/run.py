"""Benchmark runner: every installed backend and the anchors, same workload, one run.

    nox -s bench                 # default sizes
    nox -s bench -- --turns 500  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Report, console, print_report  # noqa: E402
from workloads import (  # noqa: E402
    run_backend,
    run_file_history,
    run_in_memory_history,
    run_raw_append,
    run_sdk_store,
)

from agent_framework_history import available_backends  # noqa: E402

ANCHORS = [
    "FileHistoryProvider",
    "InMemoryHistoryProvider",
    "FileResponseStore",
    "InMemoryResponseProvider",
    "raw json.dumps + append",
]

#: How each installed backend is opened for the shared workload (None = not benchmarked here).
BACKEND_TARGETS: dict[str, Callable[[Path], str | None]] = {
    "memory": lambda tmp: "memory://",
}


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000, help="turns in the shared workload (default 2000)")
    args = parser.parse_args(argv)
    turns: int = args.turns
    report = Report()
    with tempfile.TemporaryDirectory(prefix="af-history-bench-") as tmpdir:
        tmp = Path(tmpdir)
        installed = {info.name for info in available_backends() if info.ok}
        for name, target_for in BACKEND_TARGETS.items():
            if name not in installed:
                report.notes.append(f"backend {name}: not installed, skipped")
                continue
            target = target_for(tmp)
            if target is None:
                continue
            console.print(f"[dim]running backend {name} ({turns} turns)…[/dim]")
            report.rows.append(await run_backend(name, target, turns))

        console.print("[dim]running anchors…[/dim]")
        report.rows.append(await run_file_history(tmp, turns))
        report.rows.append(await run_in_memory_history(turns))
        from azure.ai.agentserver.responses import FileResponseStore, InMemoryResponseProvider

        report.rows.append(await run_sdk_store("FileResponseStore", FileResponseStore(tmp / "sdk-file"), turns))
        report.rows.append(await run_sdk_store("InMemoryResponseProvider", InMemoryResponseProvider(), turns))
        report.rows.append(await run_raw_append(tmp, turns))
    print_report(report, ANCHORS)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
