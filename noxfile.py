"""Sessions: tests (each distribution, cross-package, the docs' code), lint, bench, demo, docs, build, mutants."""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import tomllib
import zipfile
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
@nox.parametrize("package", ["core", *BACKENDS, "integration", "docs"])
def tests(session: nox.Session, package: str) -> None:
    """Run one distribution's tests in an environment holding only the core and it.

    ``integration``: the cross-package tests, with every backend and the real hosts. ``docs``: every Python block
    of the READMEs and of docs/ run as written (pytest-markdown-docs, see tests/docs/conftest.py).
    """
    if package == "docs":
        install(session, *BACKENDS)
        session.install("-e", "core[testing,hosting]", "-r", "tests/integration/requirements.txt")
        session.install("-r", "tests/docs/requirements.txt")
    elif package == "integration":
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
    """ruff, then mypy --strict and pyright (strict, as ``[tool.pyright]`` sets it) over every distribution."""
    install(session, *BACKENDS)
    session.install("ruff", "mypy", "pyright")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    packages = ["core/src/agent_framework_history", *(f"backends/{b}/src" for b in BACKENDS)]
    session.run("mypy", *packages)
    # The session's interpreter, so pyright resolves imports against the packages installed above.
    python = shutil.which("python", path=session.bin)
    if python is None:
        session.error(f"no python in the session's environment ({session.bin})")
    session.run("pyright", "--pythonpath", python)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Time every installed backend and the anchors in one run; prints the tables."""
    install(session, *BACKENDS)
    session.install("-r", "benchmarks/requirements.txt")
    session.run("python", "benchmarks/run.py", *session.posargs)


#: Every distribution: the core, then the backends.
DISTRIBUTIONS = ["core", *(f"backends/{name}" for name in BACKENDS)]


def _wheel_requirements(wheel: Path) -> tuple[str, list[Requirement]]:
    """The distribution name of ``wheel`` and its ``Requires-Dist`` entries outside any extra."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    unconditional = [r for r in requires if r.marker is None or "extra" not in str(r.marker)]
    return canonicalize_name(metadata["Name"]), unconditional


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Wheels and sdists of every distribution into dist/, checked with twine, each wheel installed from dist/.

    Each distribution is built with ``uv build`` (the sdist first, the wheel from the sdist, so a file missing from
    the sdist fails here), all artefacts pass ``twine check --strict``, and then each wheel is installed into a fresh
    virtual environment of its own: its third-party dependencies from the package index, then the wheel itself with
    ``--no-index --find-links dist`` (so it and the distributions of ours it needs come from dist/ alone), and its
    module is imported there, a backend also found by ``available_backends()``.
    """
    session.install("uv", "twine")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for path in DISTRIBUTIONS:
        session.run("uv", "build", "--quiet", "--out-dir", str(dist), path)
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != len(DISTRIBUTIONS) or len(sdists) != len(DISTRIBUTIONS):
        session.error(f"expected a wheel and an sdist of each of {DISTRIBUTIONS}, dist/ holds {wheels + sdists}")
    session.run("twine", "check", "--strict", *map(str, wheels + sdists))
    ours = dict(map(_wheel_requirements, wheels))
    for name, requires in ours.items():
        # Third-party requirements of this distribution and of the distributions of ours it needs.
        needed = [name, *(canonicalize_name(r.name) for r in requires if canonicalize_name(r.name) in ours)]
        third_party = sorted({str(r) for n in needed for r in ours[n] if canonicalize_name(r.name) not in ours})
        venv = Path(session.create_tmp()) / f"install-{name}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run("uv", "venv", "--quiet", "--python", PYTHON, str(venv))
        python = str(venv / "bin" / "python")
        session.run("uv", "pip", "install", "--quiet", "--python", python, *third_party)
        session.run("uv", "pip", "install", "--python", python, "--no-index", "--find-links", str(dist), name)
        module = name.replace("-", "_")
        check = f"import {module}"
        if name != "agent-framework-history":
            backend = name.removeprefix("agent-framework-history-")
            check += (
                "; from agent_framework_history import available_backends"
                f"; found = {{b.name: b for b in available_backends()}}; assert found[{backend!r}].ok, found"
            )
        session.run(python, "-c", check, external=True)
        session.log(f"{name}: installed from dist/ into a fresh environment and imported")


#: ``nox -s mutants -- TARGET``: the package copied to ``src/``, the tests copied to ``tests/`` and the modules mutated.
MUTANT_TARGETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "core": (
        "core/src/agent_framework_history",
        "core",
        ("_keys.py", "_base.py", "conversion/_writer.py", "conversion/_reader.py"),
    ),
    "sqlite": ("backends/sqlite/src/agent_framework_history_sqlite", "sqlite", ("_store.py", "_chains.py")),
    "jsonl": ("backends/jsonl/src/agent_framework_history_jsonl", "jsonl", ("_store.py", "_turns.py")),
}


@nox.session(python=PYTHON, default=False)
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut): ``nox -s mutants -- [core|sqlite|jsonl] [mutmut run arguments]``.

    Slow, so in neither the default sessions nor CI. The first argument picks the target (``core`` when
    omitted; see ``MUTANT_TARGETS``): core mutates its keys, base class and conversion writer and reader, by
    tests/core; ``sqlite`` the store and its chains (``_store.py``, ``_chains.py``), by tests/sqlite;
    ``jsonl`` the store and its turns (``_store.py``, ``_turns.py``), by tests/jsonl. The other arguments
    go to ``mutmut run`` (mutant names or globs, ``--max-children N``). On two cores the writer takes about
    10 minutes, sqlite 4, jsonl well over half an hour (each hanging mutant waits out mutmut's timeout).

    mutmut wants the code under ``src/`` and the tests under ``tests/`` of the directory it runs in, so the
    session copies the target's package, its tests and the root pyproject.toml (the pytest settings) into
    ``.nox/mutmut/TARGET``, adds the ``[tool.mutmut]`` table there, and runs there; ``mutmut results`` and
    ``mutmut show NAME`` (``.nox/mutants/bin/mutmut``) work from that directory afterwards, and so does
    ``mutmut run NAME...`` after copying new tests in (each session run starts the directory afresh). A backend is
    installed from backends/ but not editable: its entry point (``open_store("sqlite://...")``) names the
    module, and mutmut puts ``mutants/src`` first on ``sys.path``, so the import finds the mutated copy.
    """
    target = session.posargs[0] if session.posargs and session.posargs[0] in MUTANT_TARGETS else "core"
    args = session.posargs[1:] if session.posargs[:1] == [target] else session.posargs
    package, tests_of, modules = MUTANT_TARGETS[target]
    if target == "core":
        install(session)
        session.install("azure-ai-agentserver-responses>=2.3")
    else:
        session.install("-e", "core[testing]", backend_requirement(target))
    session.install("mutmut>=3.8,<4")
    work = ROOT / ".nox" / "mutmut" / target  # not in the session's tmp/: nox wipes that with the environment
    shutil.rmtree(work, ignore_errors=True)
    source = Path("src") / Path(package).name
    shutil.copytree(ROOT / package, work / source, ignore=shutil.ignore_patterns("__pycache__"))
    tests = work / "tests"
    shutil.copytree(
        ROOT / "tests" / tests_of,
        tests / tests_of,
        ignore=shutil.ignore_patterns("__pycache__", "test_benchmark_docs.py"),  # that one reads docs/
    )
    shutil.copy2(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    settings: dict[str, object] = {
        "source_paths": [source.as_posix()],
        "only_mutate": [(source / module).as_posix() for module in modules],
        "pytest_add_cli_args_test_selection": [f"tests/{tests_of}"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
    }
    if target == "jsonl":  # its lock waiters' thread pool, once started, does not survive a fork of the test process
        settings["process_isolation"] = "forkserver"
    table = "".join(f"{name} = {json.dumps(value)}\n" for name, value in settings.items())  # JSON lists are TOML
    (work / "pyproject.toml").write_text(f"{(ROOT / 'pyproject.toml').read_text()}\n[tool.mutmut]\n{table}")
    with session.chdir(work):
        session.run("mutmut", "run", *args, env={"PYTHONHASHSEED": "0"})
        session.run("mutmut", "export-cicd-stats")
    stats = work / "mutants" / "mutmut-cicd-stats.json"
    if stats.exists():  # (not with --install-only)
        session.log(f"mutmut {target}: {json.dumps(json.loads(stats.read_text(encoding='utf-8')))}")
