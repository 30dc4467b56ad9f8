"""Sum the JUnit files of every test session into one closing line; exit 1 on any failure."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
files = sorted(Path(sys.argv[1]).glob("*.xml"))
for path in files:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"{len(files)} test sessions")
print(f"tests: {passed} passed, {failed} failed, {totals['skipped']} skipped")
sys.exit(1 if failed or not files or totals["tests"] == 0 else 0)
