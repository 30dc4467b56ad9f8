"""The installed ``af-history`` console script, run as a separate process, on sqlite and jsonl stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_framework_history import SessionKey

from .test_cli import SAMPLE, interchange, invoke

SCRIPT = Path(sys.executable).with_name("af-history")


def af(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean selection environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AF_HISTORY_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        input=input,
        env={**base, **(env or {}), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def ok(run: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run


def one_line_error(run: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert run.returncode == code, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("af-history: error: "), run.stderr
    return lines[0]


URLS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite:///{tmp}/history.db",
    "jsonl": lambda tmp: f"jsonl://{tmp}/jsonl-store",
}


@pytest.fixture(params=sorted(URLS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = URLS[request.param](tmp_path)
    sample = tmp_path / "sample.jsonl"
    sample.write_text(interchange(SAMPLE))
    assert invoke("import", url, str(sample)).exit_code == 0  # set-up in this process; the test runs the script
    return url


def test_console_script_runs_and_lists_the_local_backends(tmp_path: Path) -> None:
    assert SCRIPT.is_file(), f"af-history is not installed next to {sys.executable}"
    rows = json.loads(ok(af("backends", "--json", cwd=tmp_path)).stdout)
    by_name = {row["name"]: row for row in rows}
    for name in ("memory", "sqlite", "jsonl"):
        assert by_name[name]["error"] is None
        assert by_name[name]["schemes"] == [name]
        assert by_name[name]["distribution"] == f"agent-framework-history-{name}"
        assert isinstance(by_name[name]["version"], str)


def test_every_command_on_a_persistent_store(store: str, tmp_path: Path) -> None:
    listed = json.loads(ok(af("sessions", store, "--all-partitions", "--json", cwd=tmp_path)).stdout)
    assert [SessionKey(**s) for s in listed["sessions"]] == list(SAMPLE)

    shown = json.loads(ok(af("show", store, "trip", "--user", "alice", "--json", cwd=tmp_path)).stdout)
    assert shown["items"] == SAMPLE[SessionKey("trip", user="alice")]
    assert [e["kind"] for e in shown["transcript"]] == [
        "message",
        "tool call",
        "tool result",
        "approval request",
        "approval",
        "message",
    ]
    text = ok(af("show", store, "trip", "--limit", "4", cwd=tmp_path)).stdout.splitlines()
    assert text[1:] == [  # the latest 4, grown back to the call of the first one's result
        'assistant (tool call): get_weather({"city":"Paris"})  [call a-call]',
        "tool (tool result): [call a-call] sunny, 21 C",
        'assistant (approval request): may I call files.delete_file({"path":"notes.txt"})?  [request a-ar]',
        "user (approval): denied: keep it  [request a-ar]",
        "assistant: It is sunny in Paris.",
    ]

    again = ok(af("import", store, str(tmp_path / "sample.jsonl"), cwd=tmp_path))  # a second process, same file
    assert "0 new, 15 already there" in again.stderr

    exported = ok(af("export", store, "--all", cwd=tmp_path)).stdout.splitlines()
    records = [json.loads(line) for line in exported[1:]]
    assert [(SessionKey(**r["session"]), r["item"]) for r in records] == [
        (key, item) for key, items in SAMPLE.items() for item in items
    ]

    checked = ok(af("check", store, cwd=tmp_path))
    assert "Checked 4 sessions, 15 items" in checked.stdout and "no problems" in checked.stdout


def test_default_store_is_the_embedded_sqlite(tmp_path: Path) -> None:
    which = ok(af("which", cwd=tmp_path)).stdout.strip()
    assert which == "sqlite:///./.af-history/history.db\t(chosen by default (sqlite installed))"
    sample = tmp_path / "sample.jsonl"
    sample.write_text(interchange(SAMPLE))
    ok(af("import", str(sample), cwd=tmp_path))
    assert (tmp_path / ".af-history" / "history.db").is_file()
    shown = json.loads(ok(af("show", "trip", "--json", cwd=tmp_path)).stdout)
    assert shown["store"] == "sqlite:///./.af-history/history.db" and shown["count"] == 6


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("sessions", "nosuch://x"), ("'nosuch'", "Installed:", "jsonl (jsonl://)", "sqlite (sqlite://)")),
        (("sessions", "sqlite://relative.db"), ("sqlite:///relative.db",)),
    ],
)
def test_user_mistakes_are_one_line_and_exit_1(
    tmp_path: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    line = one_line_error(af(*args, cwd=tmp_path))
    for fragment in fragments:
        assert fragment in line


def test_usage_error_exits_2(tmp_path: Path) -> None:
    run = af("show", cwd=tmp_path)
    assert run.returncode == 2 and "Usage:" in run.stderr and "Traceback" not in run.stderr


def test_check_reports_damaged_jsonl_lines_and_repairs_only_torn_tails(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}/store"
    items = SAMPLE[SessionKey("trip")]
    sample = tmp_path / "two.jsonl"
    sample.write_text(interchange({SessionKey("torn"): items, SessionKey("corrupt"): items[:4]}))
    assert invoke("import", url, str(sample)).exit_code == 0
    torn = next((tmp_path / "store").rglob("torn.jsonl"))
    corrupt = next((tmp_path / "store").rglob("corrupt.jsonl"))
    with torn.open("ab") as handle:
        handle.write(b'{"type":"message","id":"half-writ')  # a write cut short by a crash
    last = len(torn.read_bytes().splitlines())  # the torn line (the backend may keep lines besides items)
    lines = corrupt.read_bytes().splitlines(keepends=True)
    lines[2] = b"this is not json\n"
    corrupt.write_bytes(b"".join(lines))
    corrupt_before = corrupt.read_bytes()

    found = af("check", url, cwd=tmp_path)
    assert found.returncode == 3, found.stdout + found.stderr
    assert f"problem {torn}:{last}: torn line" in found.stdout and "(repairable with --repair)" in found.stdout
    assert f"problem {corrupt}:3: corrupt line" in found.stdout
    assert "session 'corrupt' (user=None, chat=None)" in found.stdout and "CorruptDataError" in found.stdout
    assert found.stderr.splitlines()[-1] == "af-history: error: 3 problems found."

    repaired = af("check", url, "--repair", cwd=tmp_path)
    assert repaired.returncode == 3  # the corrupt line is reported, never changed
    assert f"repaired {torn}: torn last line {last} (removed 33 bytes)" in repaired.stdout
    assert f"{torn}:{last}" not in repaired.stdout.replace(f"repaired {torn}: torn last line {last}", "")
    assert torn.read_bytes().endswith(b"}\n")
    assert corrupt.read_bytes() == corrupt_before
    shown = json.loads(ok(af("show", url, "torn", "--json", cwd=tmp_path)).stdout)
    assert shown["items"] == items


def test_repair_keeps_a_whole_last_item_that_lost_its_newline(tmp_path: Path) -> None:
    url = f"jsonl://{tmp_path}/store"
    items = SAMPLE[SessionKey("trip")]
    sample = tmp_path / "one.jsonl"
    sample.write_text(interchange({SessionKey("s"): items[:2]}))
    assert invoke("import", url, str(sample)).exit_code == 0
    path = next((tmp_path / "store").rglob("s.jsonl"))
    with path.open("ab") as handle:
        handle.write(json.dumps(items[2]).encode())  # complete, but the newline never made it
    last = len(path.read_bytes().splitlines())

    repaired = invoke("check", url, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"repaired {path}: torn last line {last} (the whole item kept, its newline added)" in repaired.stdout
    shown = json.loads(invoke("show", url, "s", "--json").stdout)
    assert shown["items"] == items[:3]


def test_quickstart_resumes_in_a_second_process_and_show_prints_it(tmp_path: Path) -> None:
    """The demo's three steps (nox -s demo), on the embedded default store."""
    script = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AF_HISTORY_")}

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(
            [sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        return ok(run)

    first = python()
    assert "agent: Seen 2 earlier messages. You said: Please remember that." in first.stdout
    session_id = json.loads((tmp_path / ".af-history" / "quickstart-session.json").read_text())["session_id"]
    second = python("--resume")
    assert "agent: Seen 4 earlier messages. You said: What is my name?" in second.stdout
    assert "the first being: 'My name is Ada and I like graph theory.'" in second.stdout
    shown = ok(af("show", session_id, cwd=tmp_path)).stdout.splitlines()
    assert shown[1:] == [
        "user: My name is Ada and I like graph theory.",
        "assistant: Seen 0 earlier messages. You said: My name is Ada and I like graph theory.",
        "user: Please remember that.",
        "assistant: Seen 2 earlier messages. You said: Please remember that.",
        "user: What is my name?",
        "assistant: Seen 4 earlier messages. You said: What is my name?",
    ]


@pytest.mark.parametrize("destination", ["memory://", "memory://named", "sqlite:///:memory:"])
def test_writing_to_a_store_that_ends_with_the_process_is_refused(store: str, tmp_path: Path, destination: str) -> None:
    message = f"The store {destination} keeps its data only inside this process"
    assert message in one_line_error(af("migrate", "--from", store, "--to", destination, cwd=tmp_path))
    sample = tmp_path / "sample.jsonl"
    assert message in one_line_error(af("import", destination, str(sample), cwd=tmp_path))


def listed_keys(store: str, cwd: Path) -> list[SessionKey]:
    listed = json.loads(ok(af("sessions", store, "--all-partitions", "--json", cwd=cwd)).stdout)
    return [SessionKey(**s) for s in listed["sessions"]]


def test_delete_a_users_sessions_for_good(store: str, tmp_path: Path) -> None:
    refused = one_line_error(af("delete", store, "--all", "--user", "alice", cwd=tmp_path, input=""))
    assert "Refusing to delete 2 sessions" in refused and "--yes" in refused
    assert len(listed_keys(store, tmp_path)) == 4
    dry = ok(af("delete", store, "--all", "--user", "alice", "--dry-run", cwd=tmp_path))
    assert "Would delete" in dry.stdout and "budget" in dry.stdout and "work" in dry.stdout
    done = ok(af("delete", store, "--all", "--user", "alice", "--yes", cwd=tmp_path))
    assert "Deleted 2 sessions" in done.stderr
    assert listed_keys(store, tmp_path) == [SessionKey("trip"), SessionKey("notes", user="bob")]
    assert ok(af("delete", store, "notes", "--user", "bob", "--yes", cwd=tmp_path))
    assert listed_keys(store, tmp_path) == [SessionKey("trip")]
    gone = af("show", store, "notes", "--user", "bob", cwd=tmp_path)
    assert "No session 'notes'" in one_line_error(gone)


def age(store: str, days: int) -> None:
    """Make every session of ``store`` look last used ``days`` ago, in the backend's own records."""
    import os
    import sqlite3
    import time
    from datetime import UTC, datetime, timedelta

    if store.startswith("sqlite:///"):
        then = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        conn = sqlite3.connect(store.removeprefix("sqlite:///"))
        try:
            conn.execute("UPDATE af_history_sessions SET updated_at = ?", (then,))
            conn.commit()
        finally:
            conn.close()
        return
    then_s = time.time() - days * 86_400
    for path in Path(store.removeprefix("jsonl://")).rglob("*.jsonl"):
        os.utime(path, (then_s, then_s))


def test_prune_in_a_later_process_removes_what_has_been_idle(store: str, tmp_path: Path) -> None:
    nothing = ok(af("prune", store, "--older-than", "1h", "--dry-run", cwd=tmp_path))
    assert "No session of" in nothing.stderr and "is idle since" in nothing.stderr
    age(store, days=100)
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(interchange({SessionKey("fresh"): SAMPLE[SessionKey("trip")][:1]}))
    ok(af("import", store, str(fresh), cwd=tmp_path))
    planned = json.loads(ok(af("prune", store, "--older-than", "90d", "--dry-run", "--json", cwd=tmp_path)).stdout)
    assert [SessionKey(**{k: s[k] for k in ("session_id", "user", "chat")}) for s in planned["sessions"]] == list(
        SAMPLE
    )
    assert len(listed_keys(store, tmp_path)) == 5
    refused = one_line_error(af("prune", store, "--older-than", "90d", cwd=tmp_path, input=""))
    assert "Refusing to remove 4 sessions" in refused
    narrowed = ok(af("prune", store, "--older-than", "90d", "--user", "alice", "--yes", cwd=tmp_path))
    assert "Removed 2 sessions idle since" in narrowed.stderr
    done = ok(af("prune", store, "--older-than", "90d", "--yes", cwd=tmp_path))
    assert "Removed 2 sessions idle since" in done.stderr
    assert listed_keys(store, tmp_path) == [SessionKey("fresh")]


@pytest.mark.parametrize("torn", ["cut short", "whole item"])
def test_the_repair_warning_numbers_the_line_as_check_does(tmp_path: Path, torn: str) -> None:
    import re

    url = f"jsonl://{tmp_path}/store"
    items = SAMPLE[SessionKey("trip")]
    for n in range(3):  # three imports: three turns, so the torn line is far from line 1
        sample = tmp_path / f"part{n}.jsonl"
        sample.write_text(interchange({SessionKey("s"): items[2 * n : 2 * n + 2]}))
        ok(af("import", url, str(sample), cwd=tmp_path))
    path = next((tmp_path / "store").rglob("s.jsonl"))
    line = len(path.read_bytes().splitlines()) + 1
    with path.open("ab") as handle:
        whole = json.dumps({**items[0], "id": "a-new-id"}).encode()
        handle.write(b'{"type": "message", "id": "cut' if torn == "cut short" else whole)
    reported = af("check", url, cwd=tmp_path)
    assert f"{path}:{line}: torn line" in reported.stdout
    repaired = ok(af("check", url, "--repair", cwd=tmp_path))
    assert f"repaired {path}: torn last line {line} (" in repaired.stdout
    warned = [int(n) for n in re.findall(r"\bline (\d+)", repaired.stderr)]
    assert warned == [line], repaired.stderr
