"""``af-history migrate`` between real backends, through the console script: jsonl → sqlite → jsonl."""

from __future__ import annotations

import json
import random
from pathlib import Path

from agent_framework_history import Item, SessionKey

from .test_cli import conversation, interchange, invoke
from .test_cli_console import af, ok

SESSIONS = 200


def many_sessions() -> dict[SessionKey, list[Item]]:
    """200 sessions over several partitions, 1-13 items each, with tool calls, approvals and unicode."""
    rng = random.Random(8)
    users = [None, "alice", "bob", "ünïcødé user"]
    chats = [None, "work", "home"]
    sessions: dict[SessionKey, list[Item]] = {}
    for n in range(SESSIONS):
        key = SessionKey(f"session-{n:03d}", user=users[n % 4], chat=chats[n % 3])
        items: list[Item] = []
        for turn in range(rng.randint(1, 2)):
            items += conversation(f"s{n}t{turn}")[: rng.randint(1, 6)]
        items.append(
            {
                "type": "message",
                "id": f"s{n}-note",
                "role": "user",
                "content": [{"type": "input_text", "text": f"Grüße {n} — 你好 🌍 {'x' * rng.randint(0, 300)}"}],
            }
        )
        sessions[key] = items
    return sessions


def records(export: str) -> list[tuple[SessionKey, Item]]:
    lines = export.splitlines()
    assert json.loads(lines[0]) == {"format": "agent-framework-history", "version": 1}
    parsed = [json.loads(line) for line in lines[1:]]
    return [(SessionKey(**r["session"]), r["item"]) for r in parsed]


def test_migrate_200_sessions_jsonl_to_sqlite_to_jsonl(tmp_path: Path) -> None:
    data = many_sessions()
    total = sum(len(items) for items in data.values())
    source, middle, final = f"jsonl://{tmp_path}/a", f"sqlite:///{tmp_path}/b.db", f"jsonl://{tmp_path}/c"
    (tmp_path / "all.jsonl").write_text(interchange(data), encoding="utf-8")
    assert invoke("import", source, str(tmp_path / "all.jsonl")).exit_code == 0  # set-up, in this process

    # An earlier, interrupted run already copied the first 30 sessions to the middle store.
    partial = dict(list(data.items())[:30])
    done = sum(len(items) for items in partial.values())
    (tmp_path / "partial.jsonl").write_text(interchange(partial), encoding="utf-8")
    assert invoke("import", middle, str(tmp_path / "partial.jsonl")).exit_code == 0

    first = ok(af("migrate", "--from", source, "--to", middle, cwd=tmp_path))
    assert (
        f"Migrated {SESSIONS} sessions, {total} items: {total - done} newly stored, {done} already there. "
        f"Verified {SESSIONS}/{SESSIONS} sessions."
    ) in first.stderr
    second = ok(af("migrate", "--from", middle, "--to", final, "--no-progress", cwd=tmp_path))
    assert f"{total} items: {total} newly stored, 0 already there. Verified {SESSIONS}/{SESSIONS}" in second.stderr
    rerun = ok(af("migrate", "--from", source, "--to", middle, "--no-progress", cwd=tmp_path))
    assert f"{total} items: 0 newly stored, {total} already there" in rerun.stderr

    expected = [(key, item) for key, items in sorted(data.items(), key=lambda kv: _order(kv[0])) for item in items]
    exports = {url: invoke("export", url, "--all").stdout for url in (source, middle, final)}
    for url, text in exports.items():
        got = records(text)
        assert len(got) == total, url
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert have == want, f"{url}: record {index} differs"
    assert exports[source] == exports[middle] == exports[final]


def _order(key: SessionKey) -> tuple[bool, str, bool, str, str]:
    return (key.user is not None, key.user or "", key.chat is not None, key.chat or "", key.session_id)
