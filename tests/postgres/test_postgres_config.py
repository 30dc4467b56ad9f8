"""URL and option parsing, and discovery through the entry point (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_framework_history import ConfigurationError, available_backends, open_store
from agent_framework_history_postgres import PostgresHistoryStore, parse_settings, redact_dsn


def test_postgres_backend_is_discovered_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "postgres"]
    assert info.distribution == "agent-framework-history-postgres"
    assert info.schemes == ("postgresql", "postgres")
    assert info.error is None


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_both_schemes_open_a_store_without_connecting(scheme: str) -> None:
    store = open_store(f"{scheme}://nobody@127.0.0.1:1/nowhere?schema=agents")
    assert isinstance(store, PostgresHistoryStore)
    assert store.settings.schema == "agents"
    assert store.settings.dsn == f"{scheme}://nobody@127.0.0.1:1/nowhere"


def test_defaults() -> None:
    settings = parse_settings("postgresql://u@h/db")
    assert (settings.schema, settings.table_prefix) == ("public", "af_history_")
    assert (settings.pool_min_size, settings.pool_max_size) == (1, 10)
    assert settings.dsn == "postgresql://u@h/db"


def test_own_query_parameters_are_stripped_and_others_kept_for_asyncpg() -> None:
    settings = parse_settings(
        "postgresql://u@h:5432/db?sslmode=disable&schema=hist&table_prefix=t_&pool_min_size=2&pool_max_size=20"
        "&connect_timeout=3.5&command_timeout=none&acquire_timeout=7&max_inactive_connection_lifetime=60"
        "&statement_cache_size=0&application_name=agents"
    )
    assert settings.dsn == "postgresql://u@h:5432/db?sslmode=disable&application_name=agents"
    assert settings.schema == "hist"
    assert settings.table_prefix == "t_"
    assert (settings.pool_min_size, settings.pool_max_size) == (2, 20)
    assert settings.connect_timeout == 3.5
    assert settings.command_timeout is None
    assert settings.acquire_timeout == 7.0
    assert settings.max_inactive_connection_lifetime == 60.0
    assert settings.statement_cache_size == 0


@pytest.mark.parametrize(
    ("target", "dsn"),
    [
        ("postgres://", "postgres://"),
        ("postgresql:///test?schema=x", "postgresql:///test"),
        ("postgresql://h1:5432,h2:5433/db?schema=x", "postgresql://h1:5432,h2:5433/db"),
        ("postgresql://u:p%40ss@h/db?pool_max_size=2", "postgresql://u:p%40ss@h/db"),
        (
            "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql&schema=x&sslmode=",
            "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql&sslmode=",
        ),
    ],
)
def test_the_rest_of_the_url_reaches_asyncpg_as_written(target: str, dsn: str) -> None:
    assert parse_settings(target).dsn == dsn


def test_keyword_option_and_query_parameter_must_agree() -> None:
    settings = parse_settings("postgresql://u@h/db?schema=from_url&pool_max_size=3", schema="from_url")
    assert settings.schema == "from_url"
    assert settings.pool_max_size == 3
    assert parse_settings("postgresql://u@h/db?pool_max_size=3", pool_max_size=3).pool_max_size == 3
    with pytest.raises(ConfigurationError, match=r"schema is 'from_url' in the URL .* but 'from_kwarg' as a keyword"):
        parse_settings("postgresql://u:secret@h/db?schema=from_url", schema="from_kwarg")
    with pytest.raises(ConfigurationError) as caught:
        parse_settings("postgresql://u:secret@h/db?schema=from_url", schema="from_kwarg")
    assert "secret" not in str(caught.value)


def test_unknown_keyword_option_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError, match=r"postgres backend has no option 'pool_size' \(as a keyword option\).*pool_max_size"
    ):
        open_store("postgresql://u@h/db", pool_size=3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schema": "Bad-Name"}, "schema must be a lower-case SQL name"),
        ({"schema": ""}, "schema must be a lower-case SQL name"),
        ({"schema": "x" * 64}, "schema must be"),
        ({"table_prefix": "1abc"}, "table_prefix must be empty or"),
        ({"table_prefix": "a" * 33}, "table_prefix must be"),
        ({"pool_max_size": 0}, "pool_max_size must be an integer >= 1"),
        ({"pool_max_size": "many"}, "pool_max_size must be an integer"),
        ({"pool_min_size": True}, "pool_min_size must be an integer"),
        ({"connect_timeout": -1}, "connect_timeout must be a number of seconds"),
        ({"connect_timeout": None}, "connect_timeout must be a number of seconds >= 0, got None"),
        ({"command_timeout": "soon"}, "command_timeout must be a number of seconds >= 0 or None"),
        ({"pool_min_size": 5, "pool_max_size": 2}, r"pool_min_size \(5\) is larger than pool_max_size \(2\)"),
    ],
)
def test_bad_option_values_are_rejected_with_the_value(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_settings("postgresql://u@h/db", **options)


def test_empty_table_prefix_is_allowed() -> None:
    assert parse_settings("postgresql://u@h/db", table_prefix="").table_prefix == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("mysql://u@h/db", "Not a PostgreSQL URL"),
        ("postgresql://u@h/db#frag", "no #fragment"),
        ("postgresql://u@h/db?schema=a&schema=b", "gives schema twice"),
    ],
)
def test_bad_urls_are_rejected(target: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_settings(target)


def test_passwords_never_appear_in_messages_or_repr() -> None:
    assert redact_dsn("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_dsn("postgresql://app@db/x") == "postgresql://app@db/x"
    store = open_store("postgresql://app:s3cret@db:5432/x")
    assert "s3cret" not in repr(store)
    with pytest.raises(ConfigurationError) as caught:
        parse_settings("mysql://app:s3cret@db/x")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("schema", ["pg_catalog", "pg_toast", "pg_temp", "information_schema"])
def test_system_schemas_are_refused_in_one_line(schema: str) -> None:
    for attempt in (
        lambda: open_store(f"postgresql://u@h/db?schema={schema}"),
        lambda: parse_settings("postgresql://u@h/db", schema=schema),
    ):
        with pytest.raises(
            ConfigurationError, match=rf"schema names a PostgreSQL system schema \('{schema}'"
        ) as caught:
            attempt()
        assert "\n" not in str(caught.value) and "schema=history" in str(caught.value)


@pytest.mark.parametrize(
    ("target", "port"),
    [
        ("postgresql://x@127.0.0.1:99999/db", "99999"),
        ("postgresql://x:secret@127.0.0.1:0/db", "0"),
        ("postgresql://x@h:port/db", "port"),
        ("postgresql://x@h1:5432,h2:70000/db", "70000"),
        ("postgresql://x@[::1]:65536/db", "65536"),
    ],
)
def test_ports_out_of_range_are_refused_in_one_line(target: str, port: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"gives port '{port}'; a port is a number from 1 to 65535") as caught:
        open_store(target)
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "target",
    ["postgresql://x@h:1/db", "postgresql://x@h:65535/db", "postgresql://x@[::1]:5432/db", "postgresql://x@[::1]/db"],
)
def test_ports_in_range_are_kept(target: str) -> None:
    assert parse_settings(target).dsn == target


def test_a_missing_driver_is_reported_at_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without asyncpg the backend is listed with the reason and not offered; asyncpg is not imported to tell."""
    import importlib.util

    from agent_framework_history import UnknownBackendError
    from agent_framework_history._plugins import BackendRegistry

    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "asyncpg" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    registry = BackendRegistry()
    [info] = [i for i in registry.available() if i.name == "postgres"]
    assert info.error is not None and "asyncpg is not installed" in info.error and "pip install" in info.error
    assert not registry.has("postgres")
    with pytest.raises(UnknownBackendError, match="failed to load: ImportError: .*asyncpg is not installed"):
        registry.by_name("postgres")


def test_the_driver_check_imports_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from agent_framework_history_postgres._plugin import missing_driver;"
        " assert missing_driver() is None; assert 'asyncpg' not in sys.modules, 'asyncpg imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.asyncio
async def test_open_connects_now_and_reports_an_unreachable_server_there() -> None:
    from agent_framework_history import open_store_async
    from agent_framework_history_postgres import PostgresUnavailableError

    target = "postgresql://nobody:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    store = open_store(target)  # builds the store: nothing connects
    with pytest.raises(PostgresUnavailableError, match=r"Cannot connect to PostgreSQL at .*127\.0\.0\.1:1") as caught:
        await store.open()
    assert "s3cret" not in str(caught.value)
    await store.aclose()
    with pytest.raises(PostgresUnavailableError, match="Cannot connect"):
        await open_store_async(target)


@pytest.mark.asyncio
async def test_open_creates_the_tables_before_the_first_call(dsn: str, schema: str, admin: Any) -> None:
    store = open_store(dsn, schema=schema)
    try:
        assert await admin.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema) == 0
        assert await store.open() is store
        assert await admin.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema) > 0
        assert await store.open() is store  # open already: nothing more happens
    finally:
        await store.aclose()
