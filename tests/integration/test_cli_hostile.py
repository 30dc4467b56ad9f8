"""Hostile arguments and files: every command fails with one clear line and a non-zero exit, never a traceback.

A corpus of arguments and files meant to break the stores (JSON nested thousands of levels, binary garbage,
numbers no backend keeps, lone surrogates, NUL characters, bad URLs, missing files, directories, FIFOs and
devices where a file is expected) runs against sqlite, jsonl, memory and PostgreSQL. Each case must end
with its expected exit status, nothing escaping as an exception, no "Traceback" in the output, and the
store holding exactly what it held before.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from agent_framework_history import AppendResult, Capability, Item, SessionKey
from agent_framework_history._plugins import BackendRegistry, set_registry
from agent_framework_history.backend import AllPartitions, BackendSpec, HistoryStoreBase, hookimpl
from agent_framework_history.cli import FORMAT, FORMAT_VERSION, app

HEADER = json.dumps({"format": FORMAT, "version": FORMAT_VERSION})
POSTGRES_DSN = os.environ.get("AF_HISTORY_POSTGRES_DSN") or "postgresql://postgres@127.0.0.1:5432/test"
SCRIPT = Path(sys.executable).with_name("af-history")

#: Exit statuses: 1 the command failed, 2 a usage mistake (click), 0 it worked.
FAILED, USAGE, OK = 1, 2, 0


def record(session_id: str, item: Any) -> str:
    return json.dumps({"session": {"session_id": session_id, "user": None, "chat": None}, "item": item})


def export_file(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


SAMPLE = export_file(
    record("s", {"type": "message", "id": "m1", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
    record(
        "s", {"type": "message", "id": "m2", "role": "assistant", "content": [{"type": "output_text", "text": "yo"}]}
    ),
)

DEEP = 3000
"""Far deeper than Python's parser recursion limit."""


def hostile_files(folder: Path) -> None:
    """Write the corpus of hostile files into ``folder``."""
    deep_object = '{"a":' * DEEP + "1" + "}" * DEEP
    deep_list = json.loads("[" * 300 + "]" * 300)  # parses, but nests deeper than items may
    texts = {
        "deep.jsonl": export_file('{"session":{"session_id":"s"},"item":' + deep_object + "}"),
        "deep-header.jsonl": "[" * DEEP + "]" * DEEP + "\n",
        "empty.jsonl": "",
        "blank.jsonl": "\n\n\n",
        "huge-int.jsonl": export_file(record("s", {"type": "message", "id": "x"})[:-2] + ',"n":' + "9" * 5000 + "}}"),
        "big-int.jsonl": export_file(record("s", {"type": "message", "id": "x", "n": 2**64})),
        "nan.jsonl": export_file(record("s", {"type": "message", "id": "x"})[:-2] + ',"n":NaN}}'),
        "infinity.jsonl": export_file(record("s", {"type": "message", "id": "x"})[:-2] + ',"n":-Infinity}}'),
        "surrogate.jsonl": export_file(record("s", {"type": "message", "id": "x", "text": "a\ud800b"})),
        "surrogate-key.jsonl": export_file(record("\udc00", {"type": "message", "id": "x"})),
        "surrogate-field.jsonl": export_file(record("s", {"type": "message", "id": "x", "\ud800": 1})),
        "nul-id.jsonl": export_file(record("s", {"type": "message", "id": "a\x00b"})),
        "nul-session.jsonl": export_file(record("a\x00b", {"type": "message", "id": "x"})),
        "deep-item.jsonl": export_file(record("s", {"type": "message", "id": "x", "v": deep_list})),
        "future.jsonl": json.dumps({"format": FORMAT, "version": 99}) + "\n",
        "not-ours.jsonl": '{"format": "something-else", "version": 1}\n',
        "array-line.jsonl": export_file("[1, 2, 3]"),
        "no-id.jsonl": export_file(record("s", {"type": "message"})),
        "half-good.jsonl": export_file(record("s", {"type": "message", "id": "ok1"}), '{"session":'),
        "deep.toml": "a = " + "[" * DEEP + "]" * DEEP + "\n",
        "deep-tables.toml": "x = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
        "bad-store.toml": "[store]\nlocal = 5\n",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    (folder / "garbage.bin").write_bytes(bytes(range(256)) * 64)
    latin1 = '{"session":{"session_id":"s"},"item":{"type":"message","id":"caf\xe9"}}\n'.encode("latin-1")
    (folder / "latin1.jsonl").write_bytes(HEADER.encode() + b"\n" + latin1)
    (folder / "a-directory").mkdir()
    os.mkfifo(folder / "a-fifo")
    (folder / "target.jsonl").write_text("precious\n", encoding="utf-8")
    (folder / "a-symlink").symlink_to(folder / "target.jsonl")
    (folder / "dangling-symlink").symlink_to(folder / "nowhere.jsonl")


@dataclass(frozen=True)
class Case:
    """One hostile command: arguments (``{url}`` is the store, ``{dir}`` the folder of hostile files)."""

    name: str
    args: tuple[str, ...]
    exit_code: int = FAILED
    env: tuple[tuple[str, str], ...] = ()
    stdin: bytes | None = None

    def argv(self, url: str, folder: Path) -> list[str]:
        return [arg.replace("{url}", url).replace("{dir}", str(folder)) for arg in self.args]


def case(name: str, *args: str, exit_code: int = FAILED, stdin: bytes | None = None, **env: str) -> Case:
    return Case(name, args, exit_code, tuple(env.items()), stdin)


#: Commands run against each store kind.
STORE_CASES = [
    *(
        case(f"import {name}", "import", "{url}", f"{{dir}}/{name}")
        for name in (
            "deep.jsonl",
            "deep-header.jsonl",
            "empty.jsonl",
            "blank.jsonl",
            "huge-int.jsonl",
            "big-int.jsonl",
            "nan.jsonl",
            "infinity.jsonl",
            "surrogate.jsonl",
            "surrogate-key.jsonl",
            "surrogate-field.jsonl",
            "nul-id.jsonl",
            "nul-session.jsonl",
            "deep-item.jsonl",
            "future.jsonl",
            "not-ours.jsonl",
            "array-line.jsonl",
            "no-id.jsonl",
            "half-good.jsonl",
            "garbage.bin",
            "latin1.jsonl",
            "a-directory",
            "a-fifo",
            "missing.jsonl",
            "dangling-symlink",
        )
    ),
    case("import garbage from stdin", "import", "{url}", "-", stdin=bytes(range(256)) * 8),
    case("import a deep line from stdin", "import", "{url}", "-", stdin=("[" * DEEP + "]" * DEEP).encode()),
    case("import nothing from stdin", "import", "{url}", "-", stdin=b""),
    case("show a huge limit", "show", "{url}", "s", "--limit", "99999999999999999999", exit_code=OK),
    case("show limit 0", "show", "{url}", "s", "--limit", "0", exit_code=USAGE),
    case("show a negative limit", "show", "{url}", "s", "--limit", "-5", exit_code=USAGE),
    case("show a non-number limit", "show", "{url}", "s", "--limit", "1e999", exit_code=USAGE),
    case("show a NUL in the id", "show", "{url}", "a\x00b"),
    case("show a lone surrogate id", "show", "{url}", "\ud800"),
    case("show a lone surrogate user", "show", "{url}", "s", "--user", "\udfff"),
    case("show a 5000-character id", "show", "{url}", "x" * 5000),
    case("show a missing session", "show", "{url}", "no-such-session"),
    case("show an empty user", "show", "{url}", "s", "--user", ""),
    case("sessions with an empty chat", "sessions", "{url}", "--chat", ""),
    case("export to a directory", "export", "{url}", "--all", "-o", "{dir}/a-directory"),
    case("export to a FIFO", "export", "{url}", "--all", "-o", "{dir}/a-fifo"),
    case("export to a symlink", "export", "{url}", "--all", "-o", "{dir}/a-symlink"),
    case("export to a dangling symlink", "export", "{url}", "--all", "-o", "{dir}/dangling-symlink"),
    case("export to /dev/null", "export", "{url}", "--all", "-o", "/dev/null"),
    case("export into a missing folder", "export", "{url}", "--all", "-o", "{dir}/missing/x.jsonl"),
    case("export a missing session", "export", "{url}", "no-such-session", "-o", "{dir}/out.jsonl"),
    case("migrate to the same store", "migrate", "--from", "{url}", "--to", "{url}"),
    case("migrate to an unknown backend", "migrate", "--from", "{url}", "--to", "nope://x"),
    case("migrate to file-history", "migrate", "--from", "{url}", "--to", "file-history:///{dir}/fh"),
    case("check", "check", "{url}", exit_code=OK),
    case("delete without --yes or a terminal", "delete", "{url}", "s"),
    case("delete everything without --yes", "delete", "{url}", "--all", "--chat", "c", "--user", "u"),
    case("delete a dry run", "delete", "{url}", "s", "--dry-run", exit_code=OK),
    case("delete a missing session", "delete", "{url}", "no-such-session", "--yes"),
    case("delete a NUL id", "delete", "{url}", "a\x00b", "--yes"),
    case("delete a lone surrogate user", "delete", "{url}", "--all", "--user", "\udfff", "--yes"),
    case("delete an empty user", "delete", "{url}", "--all", "--user", "", "--yes"),
    case("delete all with no user or chat", "delete", "{url}", "--all", "--yes", exit_code=USAGE),
    case("prune a dry run", "prune", "{url}", "--older-than", "1s", "--dry-run", exit_code=OK),
    case("prune nothing that old", "prune", "{url}", "--older-than", "3650d", "--yes", exit_code=OK),
    case("prune a duration of garbage", "prune", "{url}", "--older-than", "\x00", exit_code=USAGE),
    case("prune back before year 1", "prune", "{url}", "--older-than", "9999999w", "--yes"),
]

#: Commands whose store is broken in itself: bad URLs, bad settings, files that are not stores.
URL_CASES = [
    case("sqlite in a missing user's home", "sessions", "sqlite:///~nouser-af-history/x.db"),
    case("sqlite on a directory", "sessions", "sqlite:///{dir}/a-directory"),
    case("sqlite on garbage", "sessions", "sqlite:///{dir}/garbage.bin"),
    case("check sqlite on garbage", "check", "sqlite:///{dir}/garbage.bin"),
    case("sqlite under /proc", "sessions", "sqlite:////proc/1/no/x.db"),
    case("sqlite with a bad option", "sessions", "sqlite:///{dir}/h.db?mode=%ff"),
    case("sqlite with a NUL in the path", "sessions", "sqlite:///{dir}/a%00b.db"),
    case("postgres port out of range", "sessions", "postgresql://postgres@127.0.0.1:99999/test"),
    case("postgres port not a number", "sessions", "postgresql://postgres@127.0.0.1:abc/test"),
    case("postgres system schema", "sessions", f"{POSTGRES_DSN}?schema=pg_catalog"),
    case("postgres information_schema", "sessions", f"{POSTGRES_DSN}?schema=information_schema"),
    case("postgres schema with NUL", "sessions", f"{POSTGRES_DSN}?schema=a%00b"),
    case("postgres unknown database", "sessions", "postgresql://postgres@127.0.0.1:5432/af_history_no_such_db"),
    case("postgres unknown parameter", "sessions", f"{POSTGRES_DSN}?no_such_setting=1"),
    case("postgres closed port", "sessions", "postgresql://postgres@127.0.0.1:1/test"),
    case("foundry without an endpoint", "show", "foundry://", "s", FOUNDRY_PROJECT_ENDPOINT=""),
    case("unknown scheme", "sessions", "nope://x"),
    case("not a URL", "sessions", "::::"),
    case("memory with a query", "sessions", "memory://x?y=1"),
    case("file-history on a file", "migrate", "--from", "file-history://{dir}/garbage.bin", "--to", "memory://"),
    case("file-history missing", "migrate", "--from", "file-history://{dir}/missing", "--to", "memory://"),
    case("config nested deeply", "sessions", AF_HISTORY_CONFIG="{dir}/deep.toml", AF_HISTORY_STORE=""),
    case("config with deep tables", "which", AF_HISTORY_CONFIG="{dir}/deep-tables.toml", AF_HISTORY_STORE=""),
    case("config of garbage", "which", AF_HISTORY_CONFIG="{dir}/garbage.bin", AF_HISTORY_STORE=""),
    case("config is a directory", "which", AF_HISTORY_CONFIG="{dir}/a-directory", AF_HISTORY_STORE=""),
    case("config is missing", "sessions", AF_HISTORY_CONFIG="{dir}/missing.toml", AF_HISTORY_STORE=""),
    case("config with a bad store", "sessions", AF_HISTORY_CONFIG="{dir}/bad-store.toml", AF_HISTORY_STORE=""),
    case("store setting is garbage", "sessions", AF_HISTORY_STORE="\x01\x02"),
    case("no arguments to show", "show", exit_code=USAGE),
    case("too many arguments to show", "show", "a", "b", "c", exit_code=USAGE),
    case("unknown command", "explode", exit_code=USAGE),
]


def run(argv: list[str], *, env: dict[str, str] | None = None, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(app, argv, env=env, input=stdin)


def assert_clean(result: Result, expected: int, what: str) -> None:
    """Exit status as expected, nothing escaped, no traceback, and a failure says so in one line."""
    shown = f"{what}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{what}: {type(result.exception).__name__} escaped the CLI") from result.exception
    assert "Traceback" not in result.output, shown
    assert result.exit_code == expected, shown
    if expected == FAILED:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("af-history: error: "), shown
        assert len(lines[0]) < 1000, shown
        lines[0].encode("utf-8")  # printable even when the input held lone surrogates
    if expected == USAGE:
        assert "Error:" in result.stderr, shown


def env_of(item: Case, folder: Path) -> dict[str, str]:
    return {key: value.replace("{dir}", str(folder)) for key, value in item.env}


# -- the stores ---------------------------------------------------------------------------------------


def _postgres_url() -> Iterator[str]:
    import asyncpg

    from agent_framework_history_postgres import probe

    problem = asyncio.run(probe(POSTGRES_DSN))
    if problem is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"No PostgreSQL server at {POSTGRES_DSN}: {problem}")
        pytest.skip(f"No PostgreSQL server at {POSTGRES_DSN}: {problem}")
    schema = f"af_hostile_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        yield f"{POSTGRES_DSN}?schema={schema}"
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(POSTGRES_DSN)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        asyncio.run(drop())


STORE_KINDS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite:///{tmp}/history.db",
    "jsonl": lambda tmp: f"jsonl://{tmp}/jsonl-store",
    "memory": lambda tmp: f"memory://hostile-{secrets.token_hex(6)}",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile")
    hostile_files(path)
    return path


@pytest.fixture(scope="module", params=[*STORE_KINDS, "postgres"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store of each kind holding the session ``s`` (two items)."""
    urls: Iterator[str]
    if request.param == "postgres":
        urls = _postgres_url()
    else:
        urls = iter([STORE_KINDS[request.param](tmp_path_factory.mktemp(request.param))])
    url = next(urls)
    sample = tmp_path_factory.mktemp("sample") / "sample.jsonl"
    sample.write_text(SAMPLE, encoding="utf-8")
    assert_clean(run(["import", url, str(sample)]), OK, "importing the sample")
    yield url
    for _ in urls:  # runs the clean-up of the postgres schema
        pass


def contents(url: str) -> Any:
    """Every session and item of the store, as the CLI's export shows them."""
    result = run(["export", url, "--all"])
    assert_clean(result, OK, f"export --all of {url}")
    return result.stdout


@pytest.mark.parametrize("item", STORE_CASES, ids=lambda c: c.name)
def test_hostile_commands_against_every_store(item: Case, store: str, folder: Path) -> None:
    before = contents(store)
    result = run(item.argv(store, folder), env=env_of(item, folder), stdin=item.stdin)
    assert_clean(result, item.exit_code, item.name)
    assert contents(store) == before, f"{item.name} changed the store"
    assert (folder / "target.jsonl").read_text(encoding="utf-8") == "precious\n"
    assert stat.S_ISFIFO((folder / "a-fifo").lstat().st_mode)
    assert (folder / "a-symlink").is_symlink() and (folder / "dangling-symlink").is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("item", URL_CASES, ids=lambda c: c.name)
def test_hostile_urls_and_settings(item: Case, folder: Path) -> None:
    result = run(item.argv("", folder), env=env_of(item, folder), stdin=item.stdin)
    assert_clean(result, item.exit_code, item.name)


def test_a_too_deep_jsonl_line_is_reported_by_check(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}/store"
    sample = tmp_path / "sample.jsonl"
    sample.write_text(SAMPLE, encoding="utf-8")
    assert_clean(run(["import", url, str(sample)]), OK, "import")
    (session_file,) = (tmp_path / "store").rglob("*.jsonl")
    with session_file.open("a", encoding="utf-8") as handle:
        handle.write('{"a":' * DEEP + "1" + "}" * DEEP + "\n")
    line = len(session_file.read_bytes().splitlines())
    result = run(["check", url])
    assert_clean(result, 3, "check of a store with a too-deep line")
    assert f"{session_file.name}:{line}: corrupt line: " in result.stdout, result.stdout
    assert "nested too deeply" in result.stdout, result.stdout
    assert_clean(run(["show", url, "s"]), FAILED, "show of a session with a too-deep line")


# -- errors nobody planned for ------------------------------------------------------------------------


class ExplodingStore(HistoryStoreBase):
    """A store whose driver fails in a way the library does not know."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.LIST_SESSIONS})

    def __init__(self, target: str = "", **options: Any) -> None:
        super().__init__()

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        raise RuntimeError("driver exploded\nwith a second line")

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        raise RecursionError("maximum recursion depth exceeded")

    async def _do_list_sessions(self, user: str | AllPartitions | None, chat: str | AllPartitions | None) -> Any:
        raise KeyError("no such table")
        yield  # pragma: no cover - makes this an async generator


class SurrogateStore(HistoryStoreBase):
    """A store whose data was written before items were checked: it gives back a lone surrogate."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.LIST_SESSIONS})

    def __init__(self, target: str = "", **options: Any) -> None:
        super().__init__()

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        return AppendResult(0)

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        return [{"type": "message", "id": "bad", "role": "user", "content": [{"type": "input_text", "text": "\ud800"}]}]

    async def _do_list_sessions(self, user: str | AllPartitions | None, chat: str | AllPartitions | None) -> Any:
        yield SessionKey("s")


class ExplodingPlugin:
    @hookimpl
    def history_store_backends(self) -> list[BackendSpec]:
        return [
            BackendSpec("exploding", ExplodingStore, schemes=("exploding",)),
            BackendSpec("surrogate", SurrogateStore, schemes=("surrogate",)),
        ]


@pytest.fixture
def exploding() -> Iterator[None]:
    registry = BackendRegistry(load_entry_points=False)
    registry.register(ExplodingPlugin())
    old = set_registry(registry)
    try:
        yield
    finally:
        set_registry(old)


@pytest.mark.usefixtures("exploding")
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sessions", "exploding://"], "KeyError: 'no such table'"),
        (["show", "exploding://", "s"], "nested too deeply"),
        (["import", "exploding://", "-"], "RuntimeError: driver exploded with a second line"),
    ],
)
def test_unexpected_errors_are_one_line_naming_their_kind(argv: list[str], fragment: str) -> None:
    result = run(argv, stdin=SAMPLE.encode())
    assert_clean(result, FAILED, " ".join(argv))
    assert fragment in result.stderr
    assert "AF_HISTORY_DEBUG=1" in result.stderr


@pytest.mark.usefixtures("exploding")
def test_export_never_writes_text_utf8_cannot_hold(tmp_path: Path) -> None:
    result = run(["export", "surrogate://", "--all"])
    assert_clean(result, FAILED, "export of a lone surrogate to stdout")
    assert "lone surrogate" in result.stderr and "'bad'" in result.stderr
    result.stdout_bytes.decode("utf-8")  # strict: what was written is valid UTF-8
    assert "\\ud800" not in result.stdout and "bad" not in result.stdout
    target = tmp_path / "out.jsonl"
    assert_clean(run(["export", "surrogate://", "--all", "-o", str(target)]), FAILED, "export of a lone surrogate")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


@pytest.mark.usefixtures("exploding")
def test_af_history_debug_lets_the_traceback_through() -> None:
    result = run(["sessions", "exploding://"], env={"AF_HISTORY_DEBUG": "1"})
    assert isinstance(result.exception, KeyError)
    result = run(["show", "exploding://", "s"], env={"AF_HISTORY_DEBUG": "1"})
    assert isinstance(result.exception, RecursionError)


# -- the real console script --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "sqlite:///{dir}/h.db", "{dir}/deep.jsonl"],
        ["import", "sqlite:///{dir}/h.db", "{dir}/garbage.bin"],
        ["show", "sqlite:///{dir}/h.db", "s", "--limit", "99999999999999999999"],
        ["sessions", "sqlite:///~nouser-af-history/x.db"],
        ["export", "jsonl://{dir}/j", "--all", "-o", "{dir}/a-fifo"],
        ["which"],
    ],
)
def test_console_script_prints_no_traceback(argv: list[str], folder: Path) -> None:
    env = {**os.environ, "AF_HISTORY_CONFIG": str(folder / "deep.toml"), "AF_HISTORY_STORE": "", "COLUMNS": "200"}
    env.pop("AF_HISTORY_DEBUG", None)
    done = subprocess.run(
        [str(SCRIPT), *(arg.replace("{dir}", str(folder)) for arg in argv)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=folder,
    )
    assert done.returncode == FAILED, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("af-history: error: "), done.stderr


# -- export -o writes through regular files only ------------------------------------------------------


def test_export_replaces_a_regular_file_keeping_its_permissions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    sample = tmp_path / "sample.jsonl"
    sample.write_text(SAMPLE, encoding="utf-8")
    assert_clean(run(["import", url, str(sample)]), OK, "import")
    target = tmp_path / "out.jsonl"
    target.write_text("old contents\n", encoding="utf-8")
    target.chmod(0o640)
    assert_clean(run(["export", url, "--all", "-o", str(target)]), OK, "export over a regular file")
    written = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert written == [json.loads(line) for line in SAMPLE.splitlines()]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db", "out.jsonl", "sample.jsonl"]  # no temp file left


def test_export_creates_a_new_file_with_the_umask_mode(tmp_path: Path) -> None:
    url = f"memory://export-new-{secrets.token_hex(4)}"
    target = tmp_path / "new.jsonl"
    old = os.umask(0o022)
    try:
        assert_clean(run(["export", url, "--all", "-o", str(target)]), OK, "export to a new file")
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == HEADER + "\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory", "char device"])
def test_export_refuses_what_is_not_a_regular_file_and_leaves_it_alone(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n", encoding="utf-8")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(precious)
    elif kind == "directory":
        target.mkdir()
    else:
        target = Path("/dev/null")  # never written: the refusal comes before anything is opened
    before = target.lstat()
    result = run(["export", f"memory://refuse-{secrets.token_hex(4)}", "--all", "-o", str(target)])
    assert_clean(result, FAILED, f"export to a {kind}")
    assert "Refusing to write the export" in result.stderr and "regular file" in result.stderr
    after = target.lstat()
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert precious.read_text(encoding="utf-8") == "keep me\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_a_refused_export_target_is_refused_before_the_store_is_opened(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    result = run(["export", f"sqlite:///{database}", "--all", "-o", "/dev/null"])
    assert_clean(result, FAILED, "export to /dev/null")
    assert not database.exists()  # opening would have created it
    result = run(["export", f"sqlite:///{database}", "--all", "-o", str(tmp_path / "missing" / "out.jsonl")])
    assert_clean(result, FAILED, "export into a missing folder")
    assert "does not exist" in result.stderr
    assert not database.exists()
