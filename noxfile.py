"""Sessions: tests (one environment per distribution, then the cross-package tests), lint, bench."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
#: Backend distributions under backends/, each tested in an environment holding only it and the core.
BACKENDS = ["memory"]
#: Extra packages a backend's own tests need (beyond the core's testing extra).
BACKEND_TEST_DEPS: dict[str, list[str]] = {}


def install_core(session: nox.Session) -> None:
    session.install("-e", "core[testing]")


def install_backends(session: nox.Session, *names: str) -> None:
    args: list[str] = []
    for name in names:
        args += ["-e", f"backends/{name}"]
        args += BACKEND_TEST_DEPS.get(name, [])
    session.install(*args)


@nox.session(python=PYTHON)
@nox.parametrize("package", ["core", *BACKENDS, "integration"])
def tests(session: nox.Session, package: str) -> None:
    """Run one distribution's tests in an environment holding only what it declares."""
    install_core(session)
    if package == "integration":
        install_backends(session, *BACKENDS)
        session.install("pip")  # the plugin test installs a throwaway wheel with pip
    elif package != "core":
        install_backends(session, package)
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
    """The README's first command: set up and run the quick start."""
    install_core(session)
    install_backends(session, *BACKENDS)
    session.run("python", "examples/quickstart.py")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, then the strict type checker over every distribution."""
    install_core(session)
    install_backends(session, *BACKENDS)
    session.install("ruff", "mypy", "pytest", "pytest-asyncio", "hypothesis", "nox")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    packages = ["core/src/agent_framework_history", *(f"backends/{b}/src" for b in BACKENDS)]
    session.run("mypy", *packages)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Time every installed backend and the anchors in one run; prints the table."""
    install_core(session)
    install_backends(session, *BACKENDS)
    session.install("azure-ai-agentserver-responses>=2.3", "rich")
    session.run("python", "benchmarks/run.py", *session.posargs)
