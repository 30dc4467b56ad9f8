"""Settings of a postgres store: parsed from the URL's query and from keyword options."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from agent_framework_history.backend import ConfigurationError, StoreTarget, parse_target, redact_url, scheme_of

__all__ = ["SCHEMES", "PostgresSettings", "parse_settings", "redact_dsn", "settings_of"]

SCHEMES: Final = ("postgresql", "postgres")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_MAX_SCHEMA = 63
#: Leaves room for the longest table or index name this backend adds after the prefix.
_MAX_PREFIX = 32


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """Everything a :class:`PostgresHistoryStore` needs; build it with :func:`parse_settings`.

    ``dsn`` is the connection URL handed to asyncpg, with this backend's own query
    parameters removed; every other query parameter (``sslmode``, ``application_name``…)
    is left for asyncpg.
    """

    dsn: str
    schema: str = "public"
    """Schema holding the tables; created on open when missing."""
    table_prefix: str = "af_history_"
    """Prepended to every table and index name, so several stores can share one schema."""
    pool_min_size: int = 1
    """Connections the pool opens at once and keeps."""
    pool_max_size: int = 10
    """Most connections one store (one replica) holds; appends beyond it wait for a free one."""
    connect_timeout: float = 10.0
    """Seconds to establish one connection."""
    command_timeout: float | None = 30.0
    """Seconds one statement may run (``None``: no limit)."""
    acquire_timeout: float | None = 30.0
    """Seconds to wait for a free pooled connection (``None``: no limit)."""
    max_inactive_connection_lifetime: float = 300.0
    """Seconds an idle pooled connection is kept before it is closed (``0``: forever)."""
    statement_cache_size: int = 100
    """Prepared statements cached per connection; ``0`` for PgBouncer in transaction mode."""

    @property
    def redacted_dsn(self) -> str:
        return redact_dsn(self.dsn)


def _parse_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"postgres option {name} must be an integer >= {minimum}, got {value!r}.")
    return value


def _parse_seconds(name: str, value: object, *, optional: bool) -> float | None:
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))):
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        none = " or None" if optional else ""
        raise ConfigurationError(f"postgres option {name} must be a number of seconds >= 0{none}, got {value!r}.")
    return float(value)


def _parse_schema(name: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or len(value) > _MAX_SCHEMA:
        raise ConfigurationError(
            f"postgres option {name} must be a lower-case SQL name (letters, digits, '_', not starting with a digit,"
            f" at most {_MAX_SCHEMA} characters), got {value!r}."
        )
    if value.startswith("pg_") or value == "information_schema":
        raise ConfigurationError(
            f"postgres option {name} names a PostgreSQL system schema ({value!r}: names starting with 'pg_' and"
            " information_schema belong to the server); use a schema of your own, e.g. schema=history."
        )
    return value


def _parse_prefix(name: str, value: object) -> str:
    if not isinstance(value, str) or (value and not _IDENTIFIER.match(value)) or len(value) > _MAX_PREFIX:
        raise ConfigurationError(
            f"postgres option {name} must be empty or a lower-case SQL name (letters, digits, '_', not starting"
            f" with a digit, at most {_MAX_PREFIX} characters), got {value!r}."
        )
    return value


_PARSERS: Final[Mapping[str, Callable[[str, object], Any]]] = {
    "schema": _parse_schema,
    "table_prefix": _parse_prefix,
    "pool_min_size": lambda n, v: _parse_int(n, v, minimum=0),
    "pool_max_size": lambda n, v: _parse_int(n, v, minimum=1),
    "connect_timeout": lambda n, v: _parse_seconds(n, v, optional=False),
    "command_timeout": lambda n, v: _parse_seconds(n, v, optional=True),
    "acquire_timeout": lambda n, v: _parse_seconds(n, v, optional=True),
    "max_inactive_connection_lifetime": lambda n, v: _parse_seconds(n, v, optional=False),
    "statement_cache_size": lambda n, v: _parse_int(n, v, minimum=0),
}
assert set(_PARSERS) == {f.name for f in fields(PostgresSettings)} - {"dsn"}


def _check_ports(target: str, netloc: str) -> None:
    """Every ``host:port`` of the URL (libpq allows ``h1:5432,h2:5433``) has a port from 1 to 65535."""
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):
        port = host.rpartition("]")[2] if host.startswith("[") else host
        if ":" not in port:
            continue
        port = port.rpartition(":")[2]
        if port == "":
            continue
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigurationError(
                f"The postgres URL {redact_dsn(target)!r} gives port {port!r}; a port is a number from 1 to 65535"
                " (PostgreSQL's default is 5432)."
            )


def redact_dsn(dsn: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    return redact_url(dsn)


def parse_settings(target: str, /, **options: Any) -> PostgresSettings:
    """Split ``target`` into asyncpg's DSN and this backend's settings.

    This backend's settings may come as URL query parameters
    (``postgresql://host/db?schema=agents&pool_max_size=20``) or as keyword options; given both
    ways, they must agree. They are removed from the URL before it reaches asyncpg, which would
    otherwise send them to the server.
    """
    if not isinstance(target, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"A postgres target must be a URL string, got {type(target).__name__}.")
    if scheme_of(target) not in SCHEMES:  # before parsing, so a foreign URL is named as such
        raise ConfigurationError(
            f"Not a PostgreSQL URL: {redact_dsn(target)!r}; use postgresql://user@host:5432/database "
            "(postgres:// works too)."
        )
    return settings_of(parse_target(target, **options))


def settings_of(target: StoreTarget) -> PostgresSettings:
    """The settings a parsed ``postgresql://`` target names (what the plugin's factories build on).

    Options of this backend come from the query or keywords; every other query parameter stays in
    the DSN exactly as written, for asyncpg; other keyword options are refused.
    """
    if target.scheme not in SCHEMES:
        raise ConfigurationError(
            f"Not a PostgreSQL URL: {target.redacted!r}; use postgresql://user@host:5432/database "
            "(postgres:// works too)."
        )
    if target.fragment:
        raise ConfigurationError(f"PostgreSQL URLs take no #fragment: {target.redacted!r}.")
    _check_ports(target.url, target.host)
    target.refuse_unknown(
        _PARSERS,
        "postgres",
        among=target.keywords,  # the query's other parameters are asyncpg's
        hint="Connection parameters (sslmode, application_name, …) belong in the URL.",
    )
    own = {name: value for name, value in target.options.items() if name in _PARSERS}
    settings: dict[str, Any] = {name: _PARSERS[name](name, value) for name, value in own.items()}
    result = PostgresSettings(dsn=target.url_without(_PARSERS), **settings)
    if result.pool_min_size > result.pool_max_size:
        raise ConfigurationError(
            f"postgres option pool_min_size ({result.pool_min_size}) is larger than pool_max_size"
            f" ({result.pool_max_size}); lower the first or raise the second."
        )
    return result
