"""The "Writing a backend" example package, installed into a fresh virtual environment, passes the conformance kit."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "jsonfile-backend"


def _uv() -> list[str] | None:
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    return [found] if found else None


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"} and not k.startswith("AF_")}
    run = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert run.returncode == 0, f"{args}\n{run.stdout}\n{run.stderr}"
    return run


@pytest.mark.slow
def test_example_backend_passes_the_conformance_kit_in_a_fresh_environment(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    uv = _uv()
    if uv is not None:
        _run(*uv, "venv", "--quiet", "--python", sys.executable, venv)
        _run(*uv, "pip", "install", "--quiet", "--python", python, f"{ROOT / 'core'}[testing]", EXAMPLE)
    else:
        _run(sys.executable, "-m", "venv", venv)
        _run(python, "-m", "pip", "install", "--quiet", f"{ROOT / 'core'}[testing]", EXAMPLE)

    # Only the core and the example are installed: the example is the one backend found.
    listed = _run(python.with_name("af-history"), "backends", "--json")
    assert [(b["name"], b["distribution"], b["error"]) for b in json.loads(listed.stdout)] == [
        ("jsonfile", "af-history-jsonfile", None)
    ]

    tests = _run(python, "-m", "pytest", EXAMPLE / "tests", "-p", "no:cacheprovider", "-q", cwd=ROOT)
    summary = tests.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error|skipped)", summary)}
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0, tests.stdout
    assert counts["passed"] >= 45, summary
