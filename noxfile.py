"""Sessions: tests (per distribution, then the cross-package tests), lint, bench, demo, docs, mutants."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PYTHON = "3.11"
#: Backend distributions under backends/ (each has a pyproject.toml), tested one by one.
BACKENDS = sorted(p.parent.name for p in ROOT.glob("backends/*/pyproject.toml"))


def _extras(path: Path) -> set[str]:
    project = tomllib.loads(path.read_text())["project"]
    return set(project.get("optional-dependencies", {}))


def backend_requirement(name: str) -> str:
    """``backends/<name>``, with its ``test`` extra when it declares one (drivers its own tests need)."""
    extras = _extras(ROOT / "backends" / name / "pyproject.toml")
    return f"backends/{name}[test]" if "test" in extras else f"backends/{name}"


def install(session: nox.Session, *backends: str) -> None:
    args = ["-e", "core[testing]"]
    for name in backends:
        args += ["-e", backend_requirement(name)]
    session.install(*args)


@nox.session(python=PYTHON)
@nox.parametrize("package", ["core", *BACKENDS, "integration"])
def tests(session: nox.Session, package: str) -> None:
    """Run one distribution's tests in an environment holding only the core and it."""
    if package == "integration":
        install(session, *BACKENDS)
        session.install("pip")  # the plugin test installs a throwaway wheel with pip
        session.install("uv")  # the backend example is installed into a fresh virtualenv with uv
        # The real hosts and the real client the serving tests drive (the hosts are pre-releases).
        session.install("-r", "tests/integration/requirements.txt")
    elif package == "core":
        install(session)
        # Test-only: the conversion tests check written items against the SDK's own item models.
        session.install("azure-ai-agentserver-responses>=2.3")
    else:
        install(session, package)
    session.run(
        "pytest",
        f"tests/{package}",
        "-p",
        "no:cacheprovider",
        f"--junitxml=.ci-results/{package}.xml",
        *session.posargs,
        env={"PYTHONHASHSEED": "0", "CI": os.environ.get("CI", "")},
    )


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The README's first command: two turns, a second process resuming them, then the stored transcript."""
    session.install("-e", "core", "-e", "backends/sqlite")
    env = {"AF_HISTORY_STORE": "", "AF_HISTORY_CONFIG": ""}  # the embedded default: ./.af-history/history.db
    session.run("python", "examples/quickstart.py", env=env)
    session.run("python", "examples/quickstart.py", "--resume", env=env)
    saved = json.loads((ROOT / ".af-history" / "quickstart-session.json").read_text(encoding="utf-8"))
    session.run("af-history", "show", saved["session_id"], env=env)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs-material) in strict mode: any warning fails."""
    session.install("-r", "docs/requirements.txt")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, then mypy --strict over every distribution."""
    install(session, *BACKENDS)
    session.install("ruff", "mypy")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    packages = ["core/src/agent_framework_history", *(f"backends/{b}/src" for b in BACKENDS)]
    session.run("mypy", *packages)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Time every installed backend and the anchors in one run; prints the tables."""
    install(session, *BACKENDS)
    session.install("-r", "benchmarks/requirements.txt")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the core's keys, base class and conversion writer and reader, by tests/core.

    Slow, so in neither the default sessions nor CI. Extra arguments go to ``mutmut run`` (mutant names or
    globs, ``--max-children N``). mutmut wants the code under ``src/`` and the tests under ``tests/`` of the
    directory it runs in, so the session copies the core package, tests/core and pyproject.toml (which holds
    the ``[tool.mutmut]`` settings) into ``.nox/mutants/tmp/mutmut`` and runs there; ``mutmut results`` and
    ``mutmut show NAME`` work from that directory afterwards.
    """
    install(session)
    session.install("azure-ai-agentserver-responses>=2.3", "mutmut>=3.8,<4")
    work = Path(session.create_tmp()).resolve() / "mutmut"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "core" / "src" / "agent_framework_history", work / "src" / "agent_framework_history")
    tests = work / "tests"
    shutil.copytree(
        ROOT / "tests" / "core",
        tests / "core",
        ignore=shutil.ignore_patterns("__pycache__", "test_benchmark_docs.py"),  # that one reads docs/
    )
    shutil.copy2(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    with session.chdir(work):
        session.run("mutmut", "run", *session.posargs, env={"PYTHONHASHSEED": "0"})
        session.run("mutmut", "export-cicd-stats")
        stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text(encoding="utf-8"))
        session.log(f"mutmut: {json.dumps(stats)}")
