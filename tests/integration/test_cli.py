"""The af-history CLI in this process (click's runner) against memory stores.

Memory stores live in one process, so these tests drive the click app directly; the same commands
run through the real console script against sqlite and jsonl in ``test_cli_console.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from agent_framework import FileHistoryProvider, Message
from click.testing import CliRunner, Result

import agent_framework_history_memory._plugin as memory_plugin
from agent_framework_history import AppendResult, Capability, CorruptDataError, Item, SessionKey
from agent_framework_history._plugins import BackendRegistry, set_registry
from agent_framework_history.backend import AllPartitions, BackendSpec, HistoryStoreBase, hookimpl
from agent_framework_history.cli import FORMAT, FORMAT_VERSION, app

HEADER = json.dumps({"format": FORMAT, "version": FORMAT_VERSION})


def conversation(prefix: str) -> list[Item]:
    """A turn with text, a tool call and its result, an approval request and its answer."""
    return [
        {
            "type": "message",
            "id": f"{prefix}-m1",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "What is the weather in Paris?"}],
        },
        {
            "type": "function_call",
            "id": f"{prefix}-fc",
            "call_id": f"{prefix}-call",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
        {"type": "function_call_output", "id": f"{prefix}-fo", "call_id": f"{prefix}-call", "output": "sunny, 21 C"},
        {
            "type": "mcp_approval_request",
            "id": f"{prefix}-ar",
            "server_label": "files",
            "name": "delete_file",
            "arguments": '{"path": "notes.txt"}',
        },
        {
            "type": "mcp_approval_response",
            "id": f"{prefix}-ap",
            "approval_request_id": f"{prefix}-ar",
            "approve": False,
            "reason": "keep it",
        },
        {
            "type": "message",
            "id": f"{prefix}-m2",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "It is sunny in Paris.", "annotations": []}],
        },
    ]


def interchange(sessions: dict[SessionKey, list[Item]]) -> str:
    lines = [HEADER]
    for key, items in sessions.items():
        session = {"session_id": key.session_id, "user": key.user, "chat": key.chat}
        lines += [json.dumps({"session": session, "item": item}) for item in items]
    return "\n".join(lines) + "\n"


SAMPLE: dict[SessionKey, list[Item]] = {
    SessionKey("trip"): conversation("a"),
    SessionKey("trip", user="alice"): conversation("b"),
    SessionKey("budget", user="alice", chat="work"): conversation("c")[:2],
    SessionKey("notes", user="bob"): conversation("d")[:1],
}


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("af-history: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    path.write_text(interchange(SAMPLE), encoding="utf-8")
    return path


@pytest.fixture
def store_url(request: pytest.FixtureRequest, sample_file: Path) -> str:
    """A named memory store (unique per test) holding SAMPLE."""
    url = "memory://cli-" + "".join(c if c.isalnum() or c in "_-" else "-" for c in request.node.name)
    assert invoke("import", url, str(sample_file)).exit_code == 0
    return url


def test_backends_json_lists_memory_with_its_distribution() -> None:
    result = invoke("backends", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    memory = next(row for row in rows if row["name"] == "memory")
    assert memory == {
        "name": "memory",
        "distribution": "agent-framework-history-memory",
        "version": memory["version"],
        "schemes": ["memory"],
        "description": memory["description"],
        "error": None,
    }
    assert all(set(row) == set(memory) for row in rows)


def test_backends_table_names_every_backend() -> None:
    result = invoke("backends")
    assert result.exit_code == 0
    assert "memory://" in result.stdout and "agent-framework-history-memory" in result.stdout


def test_import_reports_counts_and_a_second_import_stores_nothing(sample_file: Path) -> None:
    first = invoke("import", "memory://cli-import-twice", str(sample_file))
    assert first.exit_code == 0
    assert "Imported 15 items of 4 sessions" in first.stderr and "15 new, 0 already there" in first.stderr
    again = invoke("import", "memory://cli-import-twice", str(sample_file))
    assert again.exit_code == 0
    assert "0 new, 15 already there" in again.stderr
    shown = json.loads(invoke("show", "memory://cli-import-twice", "trip", "--user", "alice", "--json").stdout)
    assert [item["id"] for item in shown["items"]] == [item["id"] for item in SAMPLE[SessionKey("trip", user="alice")]]


def test_import_from_standard_input(sample_file: Path) -> None:
    result = invoke("import", "memory://cli-stdin", "-", input=sample_file.read_text())
    assert result.exit_code == 0
    listed = json.loads(invoke("sessions", "memory://cli-stdin", "--all-partitions", "--json").stdout)
    assert len(listed["sessions"]) == 4


def test_sessions_lists_one_partition_unless_asked_for_all(store_url: str) -> None:
    def ids(*args: str) -> list[dict[str, Any]]:
        result = invoke("sessions", store_url, *args, "--json")
        assert result.exit_code == 0
        body = json.loads(result.stdout)
        assert body["store"] == store_url
        sessions: list[dict[str, Any]] = body["sessions"]
        return sessions

    assert ids() == [{"session_id": "trip", "user": None, "chat": None}]
    assert ids("--user", "alice") == [{"session_id": "trip", "user": "alice", "chat": None}]
    assert ids("--user", "alice", "--chat", "work") == [{"session_id": "budget", "user": "alice", "chat": "work"}]
    assert ids("--all-partitions") == [
        {"session_id": "trip", "user": None, "chat": None},
        {"session_id": "trip", "user": "alice", "chat": None},
        {"session_id": "budget", "user": "alice", "chat": "work"},
        {"session_id": "notes", "user": "bob", "chat": None},
    ]
    assert [s["session_id"] for s in ids("--all-partitions", "--user", "alice")] == ["trip", "budget"]
    table = invoke("sessions", store_url, "--all-partitions")
    assert table.exit_code == 0 and "budget" in table.stdout and "bob" in table.stdout


def test_show_prints_roles_text_tool_calls_and_approvals(store_url: str) -> None:
    result = invoke("show", store_url, "trip", "--user", "alice")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        "user: What is the weather in Paris?",
        'assistant (tool call): get_weather({"city":"Paris"})  [call b-call]',
        "tool (tool result): [call b-call] sunny, 21 C",
        'assistant (approval request): may I call files.delete_file({"path":"notes.txt"})?  [request b-ar]',
        "user (approval): denied: keep it  [request b-ar]",
        "assistant: It is sunny in Paris.",
    ]
    assert "6 items" in lines[0]


def test_show_json_shape_and_limit(store_url: str) -> None:
    result = invoke("show", store_url, "trip", "--json", "--limit", "2")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert set(body) == {"store", "session", "count", "transcript", "items"}
    assert body["session"] == {"session_id": "trip", "user": None, "chat": None}
    assert body["count"] == 3  # the latest 2, grown back to the request of the approval response
    assert body["items"] == SAMPLE[SessionKey("trip")][-3:]
    assert body["transcript"][0]["id"] == "a-ar" and body["transcript"][0]["kind"] == "approval request"
    assert body["transcript"][1] == {
        "index": 1,
        "id": "a-ap",
        "type": "mcp_approval_response",
        "role": "user",
        "kind": "approval",
        "text": "denied: keep it  [request a-ar]",
    }


def test_show_unknown_session_is_one_line_error(store_url: str) -> None:
    assert_one_line_error(invoke("show", store_url, "nope"), "No session 'nope'", "--all-partitions")


def test_export_all_then_import_elsewhere_gives_the_same_export(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = invoke("export", store_url, "--all", "-o", str(out))
    assert result.exit_code == 0 and "Exported 15 items of 4 sessions" in result.stderr
    lines = out.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": FORMAT, "version": FORMAT_VERSION}
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) == 15
    by_key: dict[SessionKey, list[Item]] = {}
    for record in records:
        by_key.setdefault(SessionKey(**record["session"]), []).append(record["item"])
    assert by_key == SAMPLE
    assert invoke("import", "memory://cli-export-copy", str(out)).exit_code == 0
    again = invoke("export", "memory://cli-export-copy", "--all")
    assert again.stdout.splitlines() == lines


def test_export_one_session_to_stdout(store_url: str) -> None:
    result = invoke("export", store_url, "budget", "--user", "alice", "--chat", "work")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[1]) == {
        "session": {"session_id": "budget", "user": "alice", "chat": "work"},
        "item": SAMPLE[SessionKey("budget", user="alice", chat="work")][0],
    }


def test_export_needs_a_session_or_all(store_url: str) -> None:
    result = CliRunner().invoke(app, ["export"])
    assert result.exit_code == 2 and "give a SESSION to export, or --all" in result.stderr
    result = CliRunner().invoke(app, ["export", store_url])
    assert result.exit_code == 2 and "looks like a store URL" in result.stderr


def test_export_of_a_missing_session_fails_and_leaves_no_file(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    assert_one_line_error(invoke("export", store_url, "nope", "-o", str(out)), "No session 'nope'")
    assert list(tmp_path.iterdir()) == [tmp_path / "sample.jsonl"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "is empty"),
        ('{"hello": 1}\n', "not an agent-framework-history export"),
        (json.dumps({"format": FORMAT, "version": 99}) + "\n", "version 99"),
        (HEADER + "\n{not json\n", "line 2: not valid JSON"),
        (HEADER + '\n{"session": {"session_id": "s"}, "item": {"type": "message"}}\n', "line 2: items[0]"),
        (HEADER + '\n{"session": {"session_id": ""}, "item": {"type": "m", "id": "x"}}\n', "line 2: SessionKey"),
        (HEADER + '\n{"item": {"type": "m", "id": "x"}}\n', "line 2: expected an object"),
    ],
)
def test_import_rejects_a_bad_file_and_writes_nothing(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    records = interchange({SessionKey("good"): conversation("g")[:1]}).split("\n", 1)[1]
    path.write_text(content + records if content else "")
    url = f"memory://cli-bad-{tmp_path.name}"
    assert_one_line_error(invoke("import", url, str(path)), fragment)
    listed = json.loads(invoke("sessions", url, "--all-partitions", "--json").stdout)
    assert listed["sessions"] == []


def test_import_of_a_missing_file_is_one_line_error() -> None:
    assert_one_line_error(invoke("import", "memory://", "/no/such/file.jsonl"), "no such file")


def test_unknown_backend_lists_the_installed_ones() -> None:
    assert_one_line_error(invoke("sessions", "nosuch://x"), "'nosuch'", "Installed:", "memory (memory://)")
    assert_one_line_error(invoke("sessions", "nosuch"), "No history backend named 'nosuch'", "memory")


def test_bad_url_names_the_problem() -> None:
    assert_one_line_error(invoke("sessions", "not a url"), "'not a url' is neither a store URL")
    assert_one_line_error(invoke("sessions", "memory://x?y=1"), "memory:// URLs take no query")


def test_empty_user_is_refused() -> None:
    assert_one_line_error(invoke("show", "memory://", "s", "--user", ""), "--user must not be empty")


def test_usage_mistakes_exit_2_without_traceback() -> None:
    result = CliRunner().invoke(app, ["show", "a", "b", "c"])
    assert result.exit_code == 2 and "expected [STORE] SESSION" in result.stderr
    result = CliRunner().invoke(app, ["show", "memory://", "s", "--limit", "0"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["migrate", "--from", "memory://"])
    assert result.exit_code == 2 and "--to" in result.stderr


def test_migrate_copies_verifies_and_resumes(store_url: str) -> None:
    result = invoke("migrate", "--from", store_url, "--to", "memory://cli-migrated")
    assert result.exit_code == 0, result.stderr
    assert "Migrated 4 sessions, 15 items: 15 newly stored, 0 already there. Verified 4/4 sessions." in result.stderr
    assert "sessions" in result.stderr and "items" in result.stderr  # the progress bars
    exported = invoke("export", "memory://cli-migrated", "--all").stdout
    assert exported == invoke("export", store_url, "--all").stdout
    again = invoke("migrate", "--from", store_url, "--to", "memory://cli-migrated", "--no-progress")
    assert again.exit_code == 0
    assert "15 items: 0 newly stored, 15 already there. Verified 4/4" in again.stderr


def test_migrate_filters_by_user(store_url: str) -> None:
    result = invoke("migrate", "--from", store_url, "--to", "memory://cli-alice", "--user", "alice", "--no-progress")
    assert result.exit_code == 0
    listed = json.loads(invoke("sessions", "memory://cli-alice", "--all-partitions", "--json").stdout)
    assert [(s["session_id"], s["chat"]) for s in listed["sessions"]] == [("trip", None), ("budget", "work")]


def test_migrate_to_the_same_store_is_refused(store_url: str) -> None:
    assert_one_line_error(invoke("migrate", "--from", store_url, "--to", store_url), "the same store")
    assert_one_line_error(invoke("migrate", "--from", store_url, "--to", "file-history:///tmp/x"), "can only be read")


@pytest.mark.filterwarnings("ignore::agent_framework._feature_stage.ExperimentalWarning")
def test_migrate_from_file_history_provider(tmp_path: Path) -> None:
    import asyncio

    directory = tmp_path / "file-history"
    provider = FileHistoryProvider(directory)
    packed = FileHistoryProvider(directory, serialization_format="msgpack")

    async def fill() -> None:
        await provider.save_messages("plain", [Message("user", ["hi"]), Message("assistant", ["hello"])])
        await provider.save_messages("Mixed Case/ID", [Message("user", ["encoded name"])])
        await packed.save_messages("packed", [Message("user", ["from msgpack"])])

    asyncio.run(fill())
    url = f"file-history://{directory}"
    result = invoke("migrate", "--from", url, "--to", "memory://cli-from-files", "--user", "ada")
    assert result.exit_code == 0, result.stderr
    assert "Migrated 3 sessions, 4 items: 4 newly stored" in result.stderr
    listed = json.loads(invoke("sessions", "memory://cli-from-files", "--user", "ada", "--json").stdout)
    assert sorted(s["session_id"] for s in listed["sessions"]) == ["Mixed Case/ID", "packed", "plain"]
    shown = invoke("show", "memory://cli-from-files", "plain", "--user", "ada")
    assert shown.stdout.splitlines()[1:] == ["user: hi", "assistant: hello"]
    packed_text = invoke("show", "memory://cli-from-files", "packed", "--user", "ada").stdout
    assert "user: from msgpack" in packed_text
    again = invoke("migrate", "--from", url, "--to", "memory://cli-from-files", "--user", "ada")
    assert "4 items: 0 newly stored, 4 already there" in again.stderr


def test_migrate_from_a_missing_file_history_directory(tmp_path: Path) -> None:
    assert_one_line_error(
        invoke("migrate", "--from", f"file-history://{tmp_path}/none", "--to", "memory://"), "is not a directory"
    )


def test_check_passes_on_a_sound_store(store_url: str) -> None:
    result = invoke("check", store_url)
    assert result.exit_code == 0
    assert "Checked 4 sessions, 15 items" in result.stdout and "no problems" in result.stdout


# A store with faults, registered under its own scheme through a private registry.


class FaultyStore(HistoryStoreBase):
    """Holds sessions in a dict; ``broken`` sessions fail to load, ``lossy`` stores drop every other item."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({Capability.LIST_SESSIONS})
    DATA: ClassVar[dict[str, dict[SessionKey, list[Item]]]] = {}

    def __init__(self, target: str, /, **options: Any) -> None:
        super().__init__()
        self.name = target.split("://", 1)[1]
        self.data = self.DATA.setdefault(self.name, {})

    async def _do_append(self, key: SessionKey, items: list[Item], head: str | None) -> AppendResult:
        stored = self.data.setdefault(key, [])
        known = {item["id"] for item in stored}
        fresh = [item for item in items if item["id"] not in known]
        if self.name.startswith("lossy"):
            fresh = fresh[::2]
        stored.extend(fresh)
        return AppendResult(len(fresh))

    async def _do_load(self, key: SessionKey, limit: int | None, head: str | None) -> list[Item]:
        if key.session_id.startswith("broken"):
            raise CorruptDataError("checksum mismatch", location=f"{self.name}/{key.session_id}:7")
        items = self.data.get(key, [])
        return list(items if limit is None else items[-limit:])

    async def _do_list_sessions(
        self, user: str | AllPartitions | None, chat: str | AllPartitions | None
    ) -> AsyncIterator[SessionKey]:
        for key in list(self.data):
            if key.matches(user, chat):
                yield key


class FaultyPlugin:
    @hookimpl
    def history_store_backends(self) -> list[BackendSpec]:
        return [BackendSpec("faulty", FaultyStore, schemes=("faulty",))]


@pytest.fixture
def faulty() -> Iterator[None]:
    registry = BackendRegistry(load_entry_points=False)
    registry.register(memory_plugin, distribution="agent-framework-history-memory")
    registry.register(FaultyPlugin())
    old = set_registry(registry)
    try:
        yield
    finally:
        set_registry(old)
        FaultyStore.DATA.clear()


@pytest.mark.usefixtures("faulty")
def test_check_reports_sessions_that_do_not_load() -> None:
    FaultyStore.DATA["one"] = {
        SessionKey("fine"): conversation("f"),
        SessionKey("broken-1", user="u"): [],
        SessionKey("dupes"): [*conversation("x")[:1], *conversation("x")[:1]],
    }
    result = invoke("check", "faulty://one")
    assert result.exit_code == 3
    assert "session 'broken-1' (user='u', chat=None) at one/broken-1:7: does not load: CorruptDataError" in (
        result.stdout
    )
    assert "item 1 repeats the id 'x-m1'" in result.stdout
    assert "Checked 3 sessions, 8 items" in result.stdout and "2 problems" in result.stdout
    assert result.stderr.strip() == "af-history: error: 2 problems found."


@pytest.mark.usefixtures("faulty")
def test_migrate_reports_sessions_that_do_not_verify() -> None:
    FaultyStore.DATA["src"] = {SessionKey("s1"): conversation("s")}
    result = invoke("migrate", "--from", "faulty://src", "--to", "faulty://lossy", "--no-progress")
    assert result.exit_code == 3
    assert "Verified 0/1 sessions" in result.stderr
    assert "not verified session 's1' (user=None, chat=None): 3 of 6 items are missing" in result.stderr


def test_a_store_that_cannot_list_is_named() -> None:
    class Unlisted(FaultyStore):
        CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()

    class Plugin:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            return [BackendSpec("unlisted", Unlisted)]

    registry = BackendRegistry(load_entry_points=False)
    registry.register(Plugin())
    old = set_registry(registry)
    try:
        assert_one_line_error(invoke("sessions", "unlisted://x"), "cannot list its sessions")
    finally:
        set_registry(old)


def test_which_names_the_setting_that_chose_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AF_HISTORY_STORE", "memory://chosen")
    result = invoke("which")
    assert result.exit_code == 0
    assert result.stdout.strip() == "memory://chosen\t(chosen by AF_HISTORY_STORE)"


def test_backends_lists_a_plugin_that_failed_with_its_error() -> None:
    class Broken:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            raise ImportError("the driver 'nosuchdb' is not installed")

    registry = BackendRegistry(load_entry_points=False)
    registry.register(memory_plugin, distribution="agent-framework-history-memory", version="0.1.0")
    registry.register(Broken(), distribution="af-history-broken", version="9.9")
    old = set_registry(registry)
    try:
        rows = json.loads(invoke("backends", "--json").stdout)
        table = invoke("backends").stdout
    finally:
        set_registry(old)
    broken = [row for row in rows if row["distribution"] == "af-history-broken"]
    assert len(broken) == 1
    assert broken[0]["error"] == "ImportError: the driver 'nosuchdb' is not installed"
    assert broken[0]["version"] == "9.9"
    assert "ImportError: the driver 'nosuchdb' is not installed" in table and "ok" in table


@pytest.mark.filterwarnings("ignore::agent_framework._feature_stage.ExperimentalWarning")
def test_file_history_relative_url_and_unrecoverable_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "fh"
    asyncio.run(FileHistoryProvider(directory).save_messages("LONG " * 80, [Message("user", ["long id"])]))
    asyncio.run(FileHistoryProvider(directory).save_messages("short", [Message("user", ["short id"])]))
    result = invoke("migrate", "--from", "file-history://./fh", "--to", "memory://cli-relative", "--no-progress")
    assert result.exit_code == 3, result.stderr  # the readable session is copied, the skip is not silent
    assert "skipped" in result.stderr and "cannot be recovered" in result.stderr
    assert "Migrated 1 session, 1 item: 1 newly stored" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "af-history: error: 1 file of file-history://./fh skipped (listed above); copy them by hand, "
        "or pass --allow-skipped to leave them behind on purpose."
    )
    deliberate = invoke(
        "migrate", "--from", "file-history://./fh", "--to", "memory://cli-relative", "--no-progress", "--allow-skipped"
    )
    assert deliberate.exit_code == 0, deliberate.stderr
    assert "skipped" in deliberate.stderr and "1 item: 0 newly stored, 1 already there" in deliberate.stderr
    assert_one_line_error(invoke("migrate", "--from", "file-history://data/fh", "--to", "memory://"), "host")


# -- a command that would do nothing says so ---------------------------------------------------------


MISSING = {
    "jsonl": lambda tmp: (f"jsonl://{tmp}/no-such-dir", tmp / "no-such-dir"),
    "sqlite": lambda tmp: (f"sqlite:///{tmp}/no-such.db", tmp / "no-such.db"),
}


@pytest.mark.parametrize("kind", sorted(MISSING))
@pytest.mark.parametrize(
    "command",
    [
        ["migrate", "--from", "{url}", "--to", "memory://cli-nowhere"],
        ["check", "{url}"],
        ["sessions", "{url}", "--all-partitions"],
        ["show", "{url}", "s"],
        ["export", "{url}", "--all"],
    ],
    ids=lambda c: c[0],
)
def test_reading_a_missing_store_is_an_error_and_creates_nothing(tmp_path: Path, kind: str, command: list[str]) -> None:
    url, path = MISSING[kind](tmp_path)
    result = invoke(*(part.replace("{url}", url) for part in command))
    assert_one_line_error(result, f"The store {url} does not exist", "never create one")
    assert not path.exists()


def test_migrating_from_a_store_without_sessions_is_an_error(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "empty").mkdir()
    empty = invoke("migrate", "--from", f"jsonl://{tmp_path}/empty", "--to", "memory://cli-empty-copy")
    assert_one_line_error(empty, f"The source jsonl://{tmp_path}/empty holds no sessions; nothing to migrate")
    nobody = invoke("migrate", "--from", store_url, "--to", "memory://cli-empty-copy", "--user", "nobody")
    assert_one_line_error(nobody, "holds no sessions for user='nobody'")
    listed = json.loads(invoke("sessions", "memory://cli-empty-copy", "--all-partitions", "--json").stdout)
    assert listed["sessions"] == []


@pytest.mark.filterwarnings("ignore::agent_framework._feature_stage.ExperimentalWarning")
def test_migrating_an_empty_file_history_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "fh").mkdir()
    (tmp_path / "fh" / "notes.txt").write_text("not a session")
    result = invoke("migrate", "--from", f"file-history://{tmp_path}/fh", "--to", "memory://cli-fh-empty")
    assert_one_line_error(result, "holds no FileHistoryProvider session files")


def test_a_typo_in_the_config_file_is_an_error_not_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AF_HISTORY_STORE", raising=False)
    monkeypatch.delenv("AF_HISTORY_CONFIG", raising=False)
    for text, fragment in (
        ('[stores]\nlocal = "memory://x"\n', "['stores'] (did you mean [store]?)"),
        ('local = "memory://x"\n', "['local'] (put 'local' and 'hosted' under [store])"),
    ):
        (tmp_path / "af-history.toml").write_text(text)
        for command in (["which"], ["sessions"]):
            assert_one_line_error(invoke(*command), "unknown top-level key(s)", fragment)
    assert not (tmp_path / ".af-history").exists()


# -- delete and prune ---------------------------------------------------------------------------


def exported_keys(url: str) -> set[tuple[str, str | None, str | None]]:
    listed = json.loads(invoke("sessions", url, "--all-partitions", "--json").stdout)["sessions"]
    return {(s["session_id"], s["user"], s["chat"]) for s in listed}


def test_delete_one_session_of_one_partition(store_url: str) -> None:
    result = invoke("delete", store_url, "trip", "--user", "alice", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().endswith(f"Deleted 1 session from {store_url}.")
    assert exported_keys(store_url) == {("trip", None, None), ("budget", "alice", "work"), ("notes", "bob", None)}
    again = invoke("delete", store_url, "trip", "--user", "alice", "--yes")
    assert_one_line_error(again, "No session 'trip' in partition user='alice'")


def test_delete_all_of_a_user_takes_every_chat_and_leaves_the_others(store_url: str) -> None:
    planned = invoke("delete", store_url, "--all", "--user", "alice", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["sessions"] == [
        {"session_id": "trip", "user": "alice", "chat": None},
        {"session_id": "budget", "user": "alice", "chat": "work"},
    ]
    assert len(exported_keys(store_url)) == 4  # the dry run removed nothing
    done = invoke("delete", store_url, "--all", "--user", "alice", "--yes", "--json")
    assert done.exit_code == 0, done.stderr
    assert len(json.loads(done.stdout)["sessions"]) == 2
    assert exported_keys(store_url) == {("trip", None, None), ("notes", "bob", None)}
    assert_one_line_error(
        invoke("delete", store_url, "--all", "--user", "alice", "--yes"), "No sessions of user='alice'", "nothing"
    )


def test_delete_asks_first_and_refuses_without_a_terminal(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_framework_history.cli import _remove

    refused = invoke("delete", store_url, "--all", "--user", "alice")
    assert_one_line_error(refused, "Refusing to delete 2 sessions", "standard input is not a terminal", "--yes")
    monkeypatch.setattr(_remove, "interactive", lambda: True)
    declined = invoke("delete", store_url, "--all", "--user", "alice", input="n\n")
    assert declined.exit_code == 1 and "Delete 2 sessions from" in declined.stderr
    assert "Nothing was removed: not confirmed." in declined.stderr
    assert len(exported_keys(store_url)) == 4
    accepted = invoke("delete", store_url, "--all", "--user", "alice", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert len(exported_keys(store_url)) == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{url}", "--all"], "--all needs --user and/or --chat"),
        (["{url}", "trip", "--all", "--user", "a"], "with --all, give at most a STORE"),
        ([], "give a SESSION to delete"),
    ],
    ids=["all-alone", "all-and-session", "nothing"],
)
def test_delete_usage_mistakes(store_url: str, args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(app, ["delete", *(a.replace("{url}", store_url) for a in args)])
    assert result.exit_code == 2 and fragment in result.stderr
    assert len(exported_keys(store_url)) == 4


def test_prune_removes_idle_sessions_after_a_dry_run(store_url: str) -> None:
    import time

    assert invoke("prune", store_url, "--older-than", "1h", "--yes", "--json").stdout.count('"session_id"') == 0
    time.sleep(1.1)
    fresh = SessionKey("fresh", user="carol")
    assert invoke("import", store_url, "-", input=interchange({fresh: conversation("f")[:1]})).exit_code == 0
    planned = invoke("prune", store_url, "--older-than", "1s", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.stderr
    report = json.loads(planned.stdout)
    assert report["dry_run"] is True
    assert {(s["session_id"], s["user"]) for s in report["sessions"]} == {
        ("trip", None),
        ("trip", "alice"),
        ("budget", "alice"),
        ("notes", "bob"),
    }
    assert all(s["last_active"] < report["before"] for s in report["sessions"])
    assert len(exported_keys(store_url)) == 5
    only_bob = invoke("prune", store_url, "--older-than", "1s", "--user", "bob", "--yes")
    assert only_bob.exit_code == 0 and "Removed 1 session idle since" in only_bob.stderr
    everyone = invoke("prune", store_url, "--older-than", "1s", "--yes")
    assert everyone.exit_code == 0 and "Removed 3 sessions" in everyone.stderr
    assert exported_keys(store_url) == {("fresh", "carol", None)}
    nothing = invoke("prune", store_url, "--older-than", "1s", "--dry-run")
    assert nothing.exit_code == 0 and "No session of" in nothing.stderr


@pytest.mark.parametrize(
    "value", ["0s", "ten days", "5", "-3d", "d", "99999999999w"], ids=["zero", "words", "bare", "minus", "unit", "huge"]
)
def test_prune_refuses_a_bad_duration(store_url: str, value: str) -> None:
    result = CliRunner().invoke(app, ["prune", store_url, "--older-than", value])
    assert result.exit_code == 2 and "--older-than" in result.stderr and "Traceback" not in result.output


@pytest.mark.usefixtures("faulty")
def test_delete_and_prune_on_a_store_that_cannot_do_them_are_one_line_errors() -> None:
    FaultyStore.DATA["kept"] = {SessionKey("s", user="u"): conversation("k")}
    assert_one_line_error(
        invoke("prune", "faulty://kept", "--older-than", "1d", "--yes"),
        "The store faulty://kept cannot tell when its sessions were last used (its backend lacks the activity",
    )
    for argv in (["s", "--user", "u"], ["--all", "--user", "u"]):
        assert_one_line_error(
            invoke("delete", "faulty://kept", *argv, "--yes"),
            "The store faulty://kept cannot delete sessions (its backend lacks the delete capability)",
        )
    assert list(FaultyStore.DATA["kept"]) == [SessionKey("s", user="u")]


# -- small mismatches ---------------------------------------------------------------------------------


def test_show_names_an_agent_framework_approval_request_as_its_answer_does() -> None:
    import asyncio

    from agent_framework import Content

    from agent_framework_history import open_store
    from agent_framework_history.conversion import to_items

    call = Content.from_function_call(call_id="call-7", name="delete_file", arguments={"path": "notes.txt"})
    request = Content.from_function_approval_request(id="approval-7", function_call=call)
    answer = request.to_function_approval_response(approved=False)
    items = to_items([Message("assistant", [request]), Message("user", [answer])])
    assert items[0]["id"] != "approval-7"  # the item's own id is derived; the answer names agent-framework's id

    async def store_them() -> None:
        store = open_store("memory://cli-af-approval")
        await store.append(SessionKey("s"), items)

    asyncio.run(store_them())
    lines = invoke("show", "memory://cli-af-approval", "s").stdout.splitlines()[1:]
    assert lines == [
        'assistant (approval request): may I call agent_framework.delete_file({"path":"notes.txt"})?  '
        "[request approval-7]",
        "user (approval): denied  [request approval-7]",
    ]


def test_delete_and_prune_on_foundry_say_what_it_cannot_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", "https://acct.services.ai.azure.com/api/projects/p")
    url = "foundry://"
    assert_one_line_error(
        invoke("delete", url, "s1", "--yes"),
        "The store foundry:// cannot delete sessions (its backend lacks the delete",
    )
    assert_one_line_error(invoke("delete", url, "--all", "--user", "alice", "--yes"), "cannot delete sessions")
    assert_one_line_error(
        invoke("prune", url, "--older-than", "30d", "--dry-run"),
        "The store foundry:// cannot tell when its sessions were last used",
    )
