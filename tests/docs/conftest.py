"""Run every Python block of the READMEs and of docs/ as written (pytest-markdown-docs).

Collecting ``tests/docs/test_pages.py`` also collects the pages listed in ``PAGES``: each ``python`` fence
is one test, unless its info string says ``notest`` (a fragment: part of a larger program, or it needs a
service this machine does not have). Each block runs as its own module, in an empty temporary working
directory, with no ``AF_HISTORY_*`` or ``FOUNDRY_*`` variable set, so the store selector picks the embedded
default and whatever a block writes lands in that directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_markdown_docs.plugin import MarkdownTextFile

ROOT = Path(__file__).resolve().parents[2]
#: The pages whose Python blocks must run: the READMEs and every page of the documentation site.
PAGES: tuple[Path, ...] = (
    ROOT / "README.md",
    ROOT / "core" / "README.md",
    *sorted(ROOT.glob("backends/*/README.md")),
    *sorted((ROOT / "docs").rglob("*.md")),
)
#: Prefixes of the variables that steer the store selector or make this machine look like a Foundry container.
STEERING_PREFIXES = ("AF_HISTORY_", "FOUNDRY_")


class DocPages(pytest.File):
    """The Python blocks of ``PAGES``, collected beside the tests of ``test_pages.py``."""

    def collect(self) -> Iterator[pytest.Collector]:
        for page in PAGES:
            yield MarkdownTextFile.from_parent(self, path=page)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path == Path(__file__).with_name("test_pages.py"):
        return DocPages.from_parent(parent, path=file_path.with_name("pages"))
    return None


class Sandbox:
    """A global autouse fixture: the blocks' items are nodes of pages outside this directory."""

    @pytest.fixture(autouse=True)
    def _docs_sandbox(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.chdir(tmp_path)
        for name in list(os.environ):
            if name.startswith(STEERING_PREFIXES):
                monkeypatch.delenv(name)
        return tmp_path


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Sandbox(), "agent-framework-history-docs-sandbox")
