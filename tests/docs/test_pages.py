"""What the pages show must exist: Python blocks are whole modules, shell commands name real commands."""

from __future__ import annotations

import ast
import itertools
import re
import shlex
import tomllib

import pytest
from markdown_it import MarkdownIt
from pytest_markdown_docs.plugin import parse_superfences_block_info

from agent_framework_history.cli import app

from .conftest import PAGES, ROOT


def fences(*languages: str) -> list[tuple[str, str, str]]:
    """``(page:line, options, code)`` of every fence in ``PAGES`` whose language is one of ``languages``."""
    found = []
    for page in PAGES:
        for token in MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8")):
            info = parse_superfences_block_info(token.info)
            if token.type == "fence" and info and info[0] in languages and token.map:
                found.append((f"{page.relative_to(ROOT)}:{token.map[0] + 1}", " ".join(info[1:]), token.content))
    return found


PYTHON = fences("python", "py")
SHELL = fences("bash", "console", "sh", "shell")
NOX_SESSIONS = set(re.findall(r"@nox\.session\([^)]*\)\n(?:@.*\n)*def (\w+)\(", (ROOT / "noxfile.py").read_text()))
DISTRIBUTIONS = {
    tomllib.loads(path.read_text())["project"]["name"]: path.parent
    for path in [ROOT / "core" / "pyproject.toml", *sorted(ROOT.glob("backends/*/pyproject.toml"))]
}


def test_pages_have_python_blocks_to_run() -> None:
    runnable = [where for where, info, _ in PYTHON if "notest" not in info.split()]
    assert len(runnable) >= 20, runnable


@pytest.mark.parametrize(("where", "info", "code"), [p for p in PYTHON if "notest" not in p[1].split()], ids=str)
def test_python_block_is_a_module_without_top_level_await(where: str, info: str, code: str) -> None:
    # pytest-markdown-docs would run a top-level ``await``; pasted into a file it is a SyntaxError.
    ast.parse(code, filename=where)


def shell_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for where, _, code in SHELL:
        for line in code.splitlines():
            line = line.strip().removeprefix("$ ")
            line = line.split("  #", 1)[0].split(" # ", 1)[0]
            for part in re.split(r"&&|\|\||;", line):
                words = shlex.split(part)
                if words:
                    commands.append((where, words))
    return commands


COMMANDS = shell_commands()


def test_af_history_commands_exist() -> None:
    shown = [(where, words) for where, words in COMMANDS if words[0] == "af-history"]
    assert shown
    for where, words in shown:
        options = [w for w in words[1:] if not w.startswith("-")]
        if options:
            assert options[0] in app.commands, f"{where}: `af-history {options[0]}` is not a command"


def test_nox_sessions_exist() -> None:
    shown = [(where, words) for where, words in COMMANDS if words[0] == "nox"]
    assert shown
    for where, words in shown:
        for flag, session in itertools.pairwise(words):
            if flag in ("-s", "--session", "-e"):
                name = session.split("(")[0].split("-")[0]
                assert name in NOX_SESSIONS, f"{where}: `nox -s {session}`: noxfile.py has {sorted(NOX_SESSIONS)}"


def test_pip_installs_name_our_distributions_or_checkout_paths() -> None:
    shown = [(where, words) for where, words in COMMANDS if "pip" in words and "install" in words]
    assert shown
    for where, words in shown:
        for word in words[words.index("install") + 1 :]:
            if word.startswith("-"):
                continue
            name = re.split(r"[\[<>=]", word.strip("'\""))[0]
            if name.startswith(("agent-framework-history", "core", "backends/", "dist/", "./", "examples/")):
                assert name in DISTRIBUTIONS or (ROOT / name).exists() or name.startswith("dist/"), f"{where}: {word}"


def test_scripts_shown_exist() -> None:
    for where, words in COMMANDS:
        if words[0] in ("python", "python3") and words[1:] and words[1].endswith(".py"):
            assert (ROOT / words[1]).is_file(), f"{where}: {words[1]} does not exist"
