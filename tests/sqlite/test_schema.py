"""Schema versions, migrations on open, and files that are not (healthy) SQLite databases."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

import agent_framework_history
from agent_framework_history import ALL, ConfigurationError, CorruptDataError, SessionKey
from agent_framework_history.testing import make_item, make_turn
from agent_framework_history_sqlite import SCHEMA_VERSION, SchemaVersionError, SQLiteHistoryStore

from ._open import aopen_now, open_now

V0_LAYOUT = """
CREATE TABLE af_history (
    user TEXT,
    chat TEXT,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,
    UNIQUE (user, chat, session_id, item_id)
);
"""


def _ids(items: list[dict[str, object]]) -> list[object]:
    return [item["id"] for item in items]


def write_v0_database(path: Path) -> None:
    """A database as the layout before the version table left it: NULL for the anonymous partition."""
    rows: list[tuple[str | None, str | None, str, int, str, str]] = []
    for n in range(3):
        for seq, item in enumerate(make_turn(n), start=2 * n + 1):
            rows.append(("alice", "c1", "s1", seq, item["id"], json.dumps(item)))
    anon = [make_item("x", "first copy"), make_item("y"), make_item("x", "second copy")]
    for seq, item in enumerate(anon, start=1):  # NULL != NULL, so the old UNIQUE let msg_x in twice
        rows.append((None, None, "s1", seq, item["id"], json.dumps(item)))
    rows.append((None, "c1", "s2", 1, "msg_z", json.dumps(make_item("z"))))
    with sqlite3.connect(path) as conn:
        conn.executescript(V0_LAYOUT)
        conn.executemany("INSERT INTO af_history VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def schema_rows(path: Path) -> tuple[set[str], list[int]]:
    conn = sqlite3.connect(path)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = [v for (v,) in conn.execute("SELECT version FROM af_history_schema_version ORDER BY version")]
    finally:
        conn.close()
    return tables, versions


@pytest.mark.asyncio
async def test_version_0_database_is_migrated_and_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    write_v0_database(path)
    async with SQLiteHistoryStore(path) as store:
        named = SessionKey("s1", user="alice", chat="c1")
        assert _ids(await store.load(named)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        anonymous = await store.load(SessionKey("s1"))
        assert _ids(anonymous) == ["msg_x", "msg_y"]
        assert anonymous[0]["content"][0]["text"] == "first copy"
        assert _ids(await store.load(SessionKey("s2", chat="c1"))) == ["msg_z"]
        assert await store.load(SessionKey("s2")) == []
        # the migrated data behaves like any other: ids are known, order continues
        assert (await store.append(SessionKey("s1"), [make_item("x"), make_item("w")])).stored == 1
        assert _ids(await store.load(SessionKey("s1"), limit=2)) == ["msg_y", "msg_w"]
        assert (await store.append(named, make_turn(2) + make_turn(3))).stored == 2
        assert _ids(await store.load(named, limit=3)) == ["msg_2a", "msg_3u", "msg_3a"]
    tables, versions = schema_rows(path)
    assert "af_history" not in tables
    assert versions == [1, 2, 3, 4] and SCHEMA_VERSION == 4


V1_LAYOUT = """
CREATE TABLE af_history_schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE af_history_sessions (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    chat TEXT NOT NULL,
    session_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (user, chat, session_id)
);
CREATE TABLE af_history_items (
    session INTEGER NOT NULL REFERENCES af_history_sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,
    UNIQUE (session, seq),
    UNIQUE (session, item_id)
);
INSERT INTO af_history_schema_version (version) VALUES (1);
"""


def write_v1_database(path: Path) -> None:
    """A database as version 1 left it: no turns, ids unique per session, gaps where re-appends were skipped."""
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_LAYOUT)
        conn.executemany(
            "INSERT INTO af_history_sessions (id, user, chat, session_id) VALUES (?, ?, ?, ?)",
            [(1, "alice", "c1", "s1"), (2, "", "", "s1"), (3, "bob", "", "empty")],
        )
        rows = [
            (1, seq, item["id"], json.dumps(item))
            for seq, item in zip((1, 2, 5, 6, 7, 9), make_turn(0) + make_turn(1) + make_turn(2), strict=True)
        ]
        rows += [(2, seq, item["id"], json.dumps(item)) for seq, item in enumerate([make_item("x"), make_item("y")], 1)]
        conn.executemany("INSERT INTO af_history_items (session, seq, item_id, item) VALUES (?, ?, ?, ?)", rows)
    conn.close()


@pytest.mark.asyncio
async def test_version_1_database_becomes_one_chain_per_session_and_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    write_v1_database(path)
    named, anonymous = SessionKey("s1", user="alice", chat="c1"), SessionKey("s1")
    everything = [f"msg_{n}{r}" for n in range(3) for r in "ua"]
    async with SQLiteHistoryStore(path) as store:
        assert _ids(await store.load(named)) == everything
        assert _ids(await store.load(named, limit=3)) == everything[-3:]
        assert _ids(await store.load(anonymous)) == ["msg_x", "msg_y"]
        assert await store.load(SessionKey("empty", user="bob")) == []
        # the session's items are one turn, whose head a replay of them hands back
        again = await store.append(named, make_turn(1) + make_turn(2))
        assert again.stored == 0 and again.head is not None
        assert _ids(await store.load(named, head=again.head)) == everything
        # appends continue the chain, and a fork from the migrated turn sees all of it
        tip = await store.append(named, make_turn(3))
        assert tip.stored == 2
        assert _ids(await store.load(named, head=tip.head)) == [*everything, "msg_3u", "msg_3a"]
        fork = await store.append(named, make_turn(3) + make_turn(4), head=again.head)
        assert fork.stored == 4  # msg_3u/a are on the other branch only, so stored here too
        assert _ids(await store.load(named)) == [*everything, "msg_3u", "msg_3a", "msg_4u", "msg_4a"]
        assert {k async for k in store.list_sessions(user="alice", chat="c1")} == {named}
    tables, versions = schema_rows(path)
    assert "af_history_turns" in tables and "af_history_items_v2" not in tables
    assert versions == [1, 2, 3, 4] == [1, 2, 3, SCHEMA_VERSION]
    conn = sqlite3.connect(path)
    try:
        first_turns = conn.execute(
            "SELECT session, turn, parent, branch, last_seq FROM af_history_turns WHERE turn = 1 ORDER BY session"
        ).fetchall()
        seqs = conn.execute("SELECT seq FROM af_history_items WHERE session = 1 AND turn = 1 ORDER BY seq").fetchall()
    finally:
        conn.close()
    assert first_turns == [(1, 1, None, 1, 6), (2, 1, None, 1, 2)]  # no turn for a session without items
    assert [seq for (seq,) in seqs] == [1, 2, 3, 4, 5, 6]  # numbered again from 1, order kept


@pytest.mark.asyncio
async def test_an_interrupted_migration_leaves_version_1_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_framework_history_sqlite import _schema

    path = tmp_path / "v1.db"
    write_v1_database(path)

    def fail() -> str:
        raise RuntimeError("power cut")

    monkeypatch.setattr(_schema, "new_head", fail)
    with pytest.raises(RuntimeError, match="power cut"):
        await aopen_now(path)
    tables, versions = schema_rows(path)
    assert versions == [1] and "af_history_turns" not in tables
    monkeypatch.undo()
    async with SQLiteHistoryStore(path) as store:
        assert _ids(await store.load(SessionKey("s1", user="alice", chat="c1"))) == [
            f"msg_{n}{r}" for n in range(3) for r in "ua"
        ]


@pytest.mark.asyncio
async def test_new_database_records_its_version_once(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    for _ in range(2):
        async with SQLiteHistoryStore(path) as store:
            await store.append(SessionKey("s"), [make_item(1)])
    tables, versions = schema_rows(path)
    assert {"af_history_schema_version", "af_history_sessions", "af_history_items"} <= tables
    assert versions == [SCHEMA_VERSION]


@pytest.mark.asyncio
async def test_other_tables_in_the_file_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE app_settings (name TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO app_settings VALUES ('theme', 'dark')")
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        await store.append(SessionKey("s"), [make_item(1)])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM app_settings").fetchall() == [("dark",)]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_newer_schema_is_refused_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(SessionKey("s"), [make_item(1)])
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO af_history_schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match=rf"schema version {SCHEMA_VERSION + 1}.*pip install -U") as caught:
        await aopen_now(path)
    assert path.read_bytes() == before
    # The core's one SchemaVersionError (a ConfigurationError, as postgres raises for the same case).
    assert SchemaVersionError is agent_framework_history.SchemaVersionError
    assert isinstance(caught.value, ConfigurationError)
    assert schema_rows(path)[1] == [SCHEMA_VERSION, SCHEMA_VERSION + 1]


def test_empty_version_table_is_corrupt_data(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE af_history_schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    conn.close()
    with pytest.raises(CorruptDataError, match="schema version") as raised:
        open_now(path)
    assert raised.value.location == str(path)


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not a database\n" * 200, bytes(range(256)) * 64, b"SQLite format 3\x00" + b"\xff" * 100],
    ids=["text", "binary", "bad-header"],
)
def test_file_that_is_not_sqlite_raises_corrupt_data_naming_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(content)
    with pytest.raises(CorruptDataError, match="garbage.db") as raised:
        open_now(path)
    assert raised.value.location == str(path)
    assert path.read_bytes() == content  # nothing was written to it


@pytest.mark.asyncio
async def test_damaged_pages_raise_corrupt_data_on_read(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    key = SessionKey("s")
    async with SQLiteHistoryStore(path) as store:
        for n in range(300):
            await store.append(key, make_turn(n))
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[2 * page :] = b"\xa5" * (len(data) - 2 * page)  # keep the header and schema page, wreck the rest
    path.write_bytes(bytes(data))

    async def open_and_load() -> None:  # SQLite may notice the damage on open or on the first read
        async with SQLiteHistoryStore(path) as store:
            await store.load(key)

    with pytest.raises(CorruptDataError, match="damaged.db") as raised:
        await open_and_load()
    assert raised.value.location == str(path)


@pytest.mark.asyncio
async def test_row_that_is_not_json_raises_corrupt_data_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    key = SessionKey("s", user="u")
    async with SQLiteHistoryStore(path) as store:
        await store.append(key, make_turn(0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE af_history_items SET item = '{not json' WHERE seq = 2")
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        assert _ids(await store.load(key, limit=0)) == []
        with pytest.raises(CorruptDataError, match="seq 2") as raised:
            await store.load(key)
    assert raised.value.location is not None and str(path) in raised.value.location


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("value", "stored_as", "message"),
    [
        (b'{"type": "message", "id": "msg_0a"}', "blob", "expected JSON text, found bytes"),
        (
            42,
            "text",
            "expected a JSON object, got int",
        ),  # the column's TEXT affinity turns a number into text, which is no item either
        (2.5, "text", "expected a JSON object, got float"),
    ],
)
async def test_row_that_is_not_an_item_raises_corrupt_data_naming_the_row(
    tmp_path: Path, value: object, stored_as: str, message: str
) -> None:
    path = tmp_path / "h.db"
    key = SessionKey("s", user="u")
    async with SQLiteHistoryStore(path) as store:
        await store.append(key, make_turn(0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE af_history_items SET item = ? WHERE seq = 2", (value,))
        assert conn.execute("SELECT typeof(item) FROM af_history_items WHERE seq = 2").fetchone()[0] == stored_as
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        assert _ids(await store.load(key, limit=0)) == []
        with pytest.raises(CorruptDataError, match=rf"cannot be read back \(.*{message}.*seq 2") as raised:
            await store.load(key)
        with pytest.raises(CorruptDataError, match="seq 2"):
            await store.load(key, limit=1)
    assert raised.value.location is not None and str(path) in raised.value.location


def write_v3_database(path: Path) -> None:
    """A version 1 database brought to version 3 by the migrations version 3 shipped: no ``updated_at``."""
    from agent_framework_history_sqlite import _schema

    write_v1_database(path)
    conn = sqlite3.connect(path)
    try:
        with conn:
            _schema.MIGRATIONS[1](conn)
            _schema.MIGRATIONS[2](conn)
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_version_3_database_gains_last_activity_as_of_the_migration(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    path = tmp_path / "v3.db"
    write_v3_database(path)
    assert schema_rows(path)[1] == [1, 2, 3]
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE af_history_sessions SET created_at = '2001-01-01T00:00:00.000Z'")  # long ago
        conn.commit()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(af_history_sessions)")]
    finally:
        conn.close()
    assert "updated_at" not in columns
    before = datetime.now(UTC) - timedelta(seconds=1)
    named = SessionKey("s1", user="alice", chat="c1")
    async with SQLiteHistoryStore(path) as store:
        times = {a.key: a.last_active async for a in store.list_activity(user=ALL, chat=ALL)}
        # every session holding items, timed at the migration: created long ago, but not known to be idle
        assert set(times) == {named, SessionKey("s1")}
        assert all(before <= when <= datetime.now(UTC) for when in times.values())
        assert await store.prune(before) == []
        assert _ids(await store.load(named)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]
        await asyncio.sleep(0.01)
        await store.append(named, make_turn(7))  # the trigger moves the time of the session appended to
        again = {a.key: a.last_active async for a in store.list_activity(user=ALL, chat=ALL)}
        assert again[named] > times[named] and again[SessionKey("s1")] == times[SessionKey("s1")]
        removed = await store.prune(again[SessionKey("s1")] + timedelta(microseconds=1))
        assert [a.key for a in removed] == [SessionKey("s1")]
    assert schema_rows(path)[1] == [1, 2, 3, 4]


@pytest.mark.asyncio
async def test_turns_recorded_by_the_hosting_store_count_as_activity(tmp_path: Path) -> None:
    """The trigger times every turn, whichever code path records it."""
    from datetime import UTC, datetime, timedelta

    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        await store.append(SessionKey("s"), [make_item(1)])
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE af_history_sessions SET updated_at = '2001-01-01T00:00:00.000Z'")
        (session,) = conn.execute("SELECT id FROM af_history_sessions").fetchone()
        conn.execute(
            "INSERT INTO af_history_turns (session, turn, head, parent, branch, last_seq) VALUES (?, 2, 'h2', 1, 1, 1)",
            (session,),
        )
        conn.commit()
    finally:
        conn.close()
    async with SQLiteHistoryStore(path) as store:
        (activity,) = [a async for a in store.list_activity()]
        assert abs(activity.last_active - datetime.now(UTC)) < timedelta(minutes=1)
