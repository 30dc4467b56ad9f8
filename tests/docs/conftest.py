"""Run every Python block of the READMEs and of docs/ as written (pytest-markdown-docs).

Collecting ``tests/docs/test_pages.py`` also collects the pages listed in ``PAGES``: each ``python`` fence
is one test, unless it is marked as a fragment (```` ```python notest ```` in a README, ```` ```{.python notest} ````
on a page of the site, which mkdocs' superfences also understands): part of a larger program, or it needs a
service this machine does not have. A fence holding ``--8<-- "path"`` (pymdownx.snippets) runs the file it
shows. Each block runs as its own module (``__name__`` is not ``"__main__"``, so a server behind
``if __name__ == "__main__":`` is built but not started), in an empty temporary working directory, with no
``AF_HISTORY_*`` or ``FOUNDRY_*`` variable set: the store selector picks the embedded default and whatever a
block writes lands in that directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
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
#: A pymdownx.snippets line: the fence shows that file (paths relative to the repository, as in mkdocs.yml).
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)


def include_snippets(state: StateCore) -> None:
    """Replace each snippet line of a fence with the file it names, as mkdocs renders it."""
    for token in state.tokens:
        if token.type == "fence":
            token.content = SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text(encoding="utf-8"), token.content)


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
    """A global autouse fixture (the blocks' items are nodes of pages outside this directory) and the parser."""

    @staticmethod
    def pytest_markdown_docs_markdown_it() -> MarkdownIt:
        parser = MarkdownIt("commonmark")
        parser.core.ruler.push("af_history_snippets", include_snippets)
        return parser

    @pytest.fixture(autouse=True)
    def _docs_sandbox(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.chdir(tmp_path)
        for name in list(os.environ):
            if name.startswith(STEERING_PREFIXES):
                monkeypatch.delenv(name)
        # The hosts a serving block builds would set up OpenTelemetry exporters; the tests send nothing anywhere.
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
        return tmp_path


def pytest_configure(config: pytest.Config) -> None:
    config.option.markdowndocs_syntax = "superfences"  # also ```{.python notest}, which mkdocs renders
    config.pluginmanager.register(Sandbox(), "agent-framework-history-docs-sandbox")
