"""sqlite:// URLs, options, and where the default store goes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_framework_history import ConfigurationError, SessionKey, open_store
from agent_framework_history.testing import make_item
from agent_framework_history_sqlite import DEFAULT_PATH, SQLiteHistoryStore, parse_target

from ._open import open_now


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///history.db", "history.db"),
        ("sqlite:///./data/history.db", "./data/history.db"),
        ("sqlite:////var/lib/app/history.db", "/var/lib/app/history.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", str(DEFAULT_PATH)),
        ("SQLITE:///upper.db", "upper.db"),
        ("sqlite:///with%20space%3F.db", "with space?.db"),
        ("  sqlite:///padded.db  ", "padded.db"),
    ],
)
def test_url_paths(url: str, path: str) -> None:
    assert parse_target(url, {}).path == path


def test_default_path_is_the_selectors_default() -> None:
    assert DEFAULT_PATH.as_posix() == ".af-history/history.db"
    assert parse_target("sqlite:///./.af-history/history.db", {}).path == "./.af-history/history.db"


def test_options_come_from_the_query_string_or_keywords_which_must_agree() -> None:
    config = parse_target("sqlite:///h.db?busy_timeout=2.5&synchronous=FULL", {})
    assert (config.busy_timeout, config.synchronous) == (2.5, "full")
    config = parse_target("sqlite:///h.db", {"busy_timeout": 7})
    assert config.busy_timeout == 7.0
    assert parse_target("sqlite:///h.db?busy_timeout=7", {"busy_timeout": 7}).busy_timeout == 7.0
    assert parse_target("sqlite:///h.db", {}).synchronous == "normal"
    assert parse_target("sqlite:///h.db?mode=RO", {}).mode == "ro"
    assert parse_target("sqlite:///h.db?mode=ro", {"mode": "ro"}).mode == "ro"
    assert parse_target("sqlite:///h.db", {}).mode == "rw"
    with pytest.raises(ConfigurationError, match=r"busy_timeout is .2\.5. in the URL .sqlite:///h\.db\?busy.* but 7"):
        parse_target("sqlite:///h.db?busy_timeout=2.5", {"busy_timeout": 7})
    with pytest.raises(ConfigurationError, match=r"mode is 'ro' in the URL .* but 'rw' as a keyword option"):
        parse_target("sqlite:///h.db?mode=ro", {"mode": "rw"})


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("sqlite://history.db", {}, r"sqlite:///history\.db"),
        ("sqlite://host/dir/h.db", {}, r"sqlite:///host/dir/h\.db"),
        ("sqlite:///", {}, "names no file"),
        ("sqlite:///h.db#frag", {}, "fragment"),
        ("sqlite:///h.db?timeout=3", {}, r"sqlite backend has no option 'timeout' \(in the URL.*busy_timeout"),
        ("sqlite:///h.db", {"pool_size": 3}, "pool_size"),
        ("sqlite:///h.db?busy_timeout=soon", {}, "busy_timeout must be a number"),
        ("sqlite:///h.db", {"busy_timeout": -1}, ">= 0"),
        ("sqlite:///h.db", {"busy_timeout": True}, "busy_timeout"),
        ("sqlite:///h.db?synchronous=off", {}, "synchronous must be one of"),
        ("sqlite:///h.db?mode=rwc", {}, r"mode must be 'rw'.*or 'ro'"),
        ("sqlite:///h.db?busy_timeout=1&busy_timeout=2", {}, "twice"),
        ("sqlite:///h.db?busy_timeout", {}, "query string"),
        ("memory://", {}, "Not a sqlite:// URL"),
    ],
)
def test_bad_urls_and_options_are_rejected(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_target(url, options)


def test_bad_url_through_open_store_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:///history\.db"):
        open_store("sqlite://history.db")


@pytest.mark.asyncio
async def test_relative_url_opens_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///nested/deeper/h.db")
    try:
        assert isinstance(store, SQLiteHistoryStore)
        await store.append(SessionKey("s"), [make_item(1)])
        assert store.path == tmp_path / "nested" / "deeper" / "h.db"
    finally:
        await store.aclose()
    assert (tmp_path / "nested" / "deeper" / "h.db").is_file()


@pytest.mark.asyncio
async def test_absolute_url(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "h.db"
    store = open_store(f"sqlite:///{target.as_posix()}")  # an absolute path after the third slash
    try:
        await store.append(SessionKey("s"), [make_item(1)])
    finally:
        await store.aclose()
    assert target.is_file()


@pytest.mark.asyncio
async def test_selector_default_works_from_a_bare_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AF_HISTORY_") or name.startswith("FOUNDRY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert not any(os.scandir(tmp_path))
    store = open_store()
    try:
        assert isinstance(store, SQLiteHistoryStore)
        await store.append(SessionKey("s"), [make_item(1)])
    finally:
        await store.aclose()
    assert (tmp_path / ".af-history" / "history.db").is_file()
    again = open_store("sqlite")  # the bare name means the same default file
    try:
        assert [i["id"] for i in await again.load(SessionKey("s"))] == ["msg_1"]
    finally:
        await again.aclose()


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        SQLiteHistoryStore(tmp_path)


def test_parent_that_is_a_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="Cannot create the directory"):
        open_now(tmp_path / "file" / "h.db")


@pytest.mark.asyncio
@pytest.mark.parametrize(("synchronous", "level"), [("normal", 1), ("full", 2), ("extra", 3)])
async def test_connection_settings(tmp_path: Path, synchronous: str, level: int) -> None:
    store = open_store(f"sqlite:///{(tmp_path / 'h.db').as_posix()}?synchronous={synchronous}", busy_timeout=1.5)
    assert isinstance(store, SQLiteHistoryStore)
    try:
        pragmas = await store._db.read(
            lambda conn: [
                conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
        )
    finally:
        await store.aclose()
    assert pragmas == ["wal", level, 1, 1500]


@pytest.mark.asyncio
async def test_memory_databases_are_private_to_their_store() -> None:
    one, two = open_store("sqlite:///:memory:"), open_store("sqlite:///:memory:")
    try:
        await one.append(SessionKey("s"), [make_item(1)])
        assert await two.load(SessionKey("s")) == []
        assert [i["id"] for i in await one.load(SessionKey("s"))] == ["msg_1"]
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.parametrize("url", ["sqlite:///~no-such-user-af/x.db", "sqlite:///~no-such-user-af"])
def test_home_of_an_unknown_user_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"Cannot expand '~' in the SQLite path '~no-such-user-af.*whole path"):
        open_store(url)


def test_a_bad_path_is_one_line_from_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent_framework_history.cli import app

    result = CliRunner().invoke(app, ["check", "sqlite:///~no-such-user-af/x.db"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("af-history: error: Cannot expand '~'"), result.output
    assert "Traceback" not in result.output


def test_a_path_too_long_for_the_system_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SQLite"):
        SQLiteHistoryStore(tmp_path / ("x" * 300) / "h.db")
