"""docs/benchmarks.md's per-turn table agrees with docs/img/bench-per-turn.json, the numbers the plot is drawn from."""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "benchmarks.md"
NUMBERS = ROOT / "docs" / "img" / "bench-per-turn.json"


def harness() -> ModuleType:
    """benchmarks/_harness.py, the module the benchmark runner writes the table with."""
    name = "af_history_bench_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "_harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def generated_section(text: str, start: str, end: str) -> str:
    assert text.count(start) == 1 and text.count(end) == 1, "the generated-table markers must appear once each"
    return text[text.index(start) + len(start) : text.index(end)].strip("\n") + "\n"


def table_rows(section: str) -> dict[str, tuple[float, float]]:
    """subject → (early, late) as printed in the docs table."""
    rows: dict[str, tuple[float, float]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"[\d,]+", cells[1]):
            continue
        name = cells[0].removesuffix(" (anchor)")
        rows[name] = (float(cells[1].replace(",", "")), float(cells[2].replace(",", "")))
    return rows


def test_the_docs_table_is_the_one_the_runner_generates_from_the_json() -> None:
    bench = harness()
    data = json.loads(NUMBERS.read_text(encoding="utf-8"))
    section = generated_section(DOCS.read_text(encoding="utf-8"), bench.TABLE_START, bench.TABLE_END)
    assert section == bench.per_turn_table(data), "rerun: python benchmarks/run.py --table-only"


def test_every_number_in_the_docs_table_is_the_mean_of_its_stretches_in_the_json() -> None:
    bench = harness()
    data: dict[str, Any] = json.loads(NUMBERS.read_text(encoding="utf-8"))
    rows = table_rows(generated_section(DOCS.read_text(encoding="utf-8"), bench.TABLE_START, bench.TABLE_END))
    assert set(rows) == set(data)
    for name, entry in data.items():
        costs = [cost for _, cost in entry["turns_done_and_us_per_turn"]]
        early, late = statistics.mean(costs[1:4]), statistics.mean(costs[-3:])  # stretches 2-4, the last three
        assert rows[name] == (round(early), round(late)), name


def test_rewriting_the_table_replaces_only_the_marked_section(tmp_path: Path) -> None:
    bench = harness()
    page = tmp_path / "benchmarks.md"
    page.write_text(f"before\n\n{bench.TABLE_START}\n| stale | 1 | 2 |\n{bench.TABLE_END}\n\nafter\n", encoding="utf-8")
    numbers = tmp_path / "numbers.json"
    numbers.write_text(
        json.dumps(
            {
                "fast": {"kind": "backend", "turns_done_and_us_per_turn": [[n * 10, 10.0] for n in range(1, 8)]},
                "slow": {"kind": "anchor", "turns_done_and_us_per_turn": [[n * 10, 100.0 * n] for n in range(1, 8)]},
            }
        ),
        encoding="utf-8",
    )
    assert bench.write_docs_table(numbers, page) is True
    text = page.read_text(encoding="utf-8")
    assert text.startswith("before\n\n") and text.endswith("\n\nafter\n")
    assert "stale" not in text
    assert table_rows(text) == {"fast": (10, 10), "slow": (300, 600)}
    assert "| fast | 10 | 10 | 1.00 | flat |" in text and "| slow (anchor) | 300 | 600 | 2.00 | grows |" in text
    assert bench.write_docs_table(numbers, page) is False  # already up to date
    page.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        bench.write_docs_table(numbers, page)
