"""``open_store``: choose and open a backend from an argument, the environment or a config file."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ._errors import ConfigurationError
from ._plugins import BackendRegistry, BackendSpec, get_registry, logger
from ._store import HistoryStore
from ._target import StoreTarget, normalise_name, parse_target, redact_url, scheme_of

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "HOSTED_STORE_ENV",
    "STORE_ENV",
    "Selection",
    "is_hosted",
    "open_now",
    "open_store",
    "open_store_async",
    "resolve_target",
]

STORE_ENV: Final = "AF_HISTORY_STORE"
HOSTED_STORE_ENV: Final = "AF_HISTORY_HOSTED_STORE"
CONFIG_ENV: Final = "AF_HISTORY_CONFIG"
DEFAULT_CONFIG_FILE: Final = "af-history.toml"
DEFAULT_HOSTED: Final = "foundry://"
DEFAULT_SQLITE: Final = "sqlite:///./.af-history/history.db"
DEFAULT_JSONL: Final = "jsonl:///./.af-history"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which target ``open_store`` chose, and why (``source`` says where the setting came from)."""

    target: str
    source: str


def is_hosted() -> bool:
    """Whether this process runs inside a Foundry hosted-agent container (per ``AgentConfig``)."""
    from azure.ai.agentserver.core import AgentConfig

    try:
        return bool(AgentConfig.from_env().is_hosted)
    except ValueError as exc:
        raise ConfigurationError(
            f"Cannot tell whether this process is hosted: AgentConfig.from_env() rejected the environment: {exc}"
        ) from exc


def _read_config() -> tuple[dict[str, Any], str | None]:
    explicit = os.environ.get(CONFIG_ENV)
    path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    if not path.is_file():
        if explicit:
            raise ConfigurationError(f"{CONFIG_ENV} points at {explicit!r}, which is not a file.")
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Cannot read history config file {str(path)!r}: {exc}") from exc
    extra = sorted(set(data) - {"store"})
    if extra:
        hint = " (put 'local' and 'hosted' under [store])" if set(extra) & {"local", "hosted"} else ""
        close = difflib.get_close_matches(extra[0], ["store"], n=1)
        hint = hint or (f" (did you mean [{close[0]}]?)" if close else "")
        raise ConfigurationError(
            f"In {str(path)!r}, unknown top-level key(s) {extra}{hint}; the file holds one table, [store], "
            "with keys 'local' and/or 'hosted'."
        )
    store: object = data.get("store", {})
    if not isinstance(store, dict):
        raise ConfigurationError(f"In {str(path)!r}, [store] must be a table with keys 'local' and/or 'hosted'.")
    table: dict[str, Any] = store  # pyright: ignore[reportUnknownVariableType]
    for key in ("local", "hosted"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(f"In {str(path)!r}, [store] {key} must be a non-empty string, got {value!r}.")
    unknown = sorted(set(table) - {"local", "hosted"})
    if unknown:
        raise ConfigurationError(f"In {str(path)!r}, [store] has unknown keys {unknown}; use 'local' and 'hosted'.")
    return table, str(path)


def resolve_target(*, registry: BackendRegistry | None = None) -> Selection:
    """Decide which store ``open_store()`` would open with no argument, without opening it.

    Precedence: ``AF_HISTORY_STORE`` > config file ``[store] local`` > automatic
    (sqlite, then jsonl). When hosted (``AgentConfig.from_env().is_hosted``):
    ``AF_HISTORY_HOSTED_STORE`` > config ``[store] hosted`` > ``foundry://``, and the local
    settings are ignored.
    """
    registry = registry or get_registry()
    env_local = os.environ.get(STORE_ENV, "").strip() or None
    config, config_path = _read_config()
    config_local = config.get("local")
    if is_hosted():
        ignored = [f"{STORE_ENV}={env_local!r}"] if env_local else []
        if config_local:
            ignored.append(f"[store] local={config_local!r} in {config_path}")
        if ignored:
            logger.info("Running hosted: ignoring the local history store setting %s.", " and ".join(ignored))
        env_hosted = os.environ.get(HOSTED_STORE_ENV, "").strip()
        if env_hosted:
            return Selection(env_hosted, HOSTED_STORE_ENV)
        if config.get("hosted"):
            return Selection(config["hosted"], f"{config_path} [store] hosted")
        return Selection(DEFAULT_HOSTED, "hosted default")
    if env_local:
        return Selection(env_local, STORE_ENV)
    if config_local:
        return Selection(config_local, f"{config_path} [store] local")
    if registry.has("sqlite"):
        return Selection(DEFAULT_SQLITE, "default (sqlite installed)")
    if registry.has("jsonl"):
        return Selection(DEFAULT_JSONL, "default (jsonl installed)")
    raise ConfigurationError(
        "No history store is configured and no local backend is installed. Install the embedded default with "
        "'pip install agent-framework-history-sqlite' (or agent-framework-history-jsonl), or set "
        f"{STORE_ENV} to a store URL such as 'memory://'."
    )


def find_backend(target: str, registry: BackendRegistry, **options: Any) -> tuple[BackendSpec, StoreTarget]:
    """The backend a URL (``scheme://…``) or backend name chooses, and the target (with ``options``) to hand it.

    A backend name stands for its first scheme with nothing after ``://`` (``sqlite`` is ``sqlite://``).
    """
    text = target.strip()
    if not text:
        raise ConfigurationError("The history store target is empty; give a URL such as 'sqlite:///history.db'.")
    scheme = scheme_of(text)
    if scheme is not None:
        spec = registry.by_scheme(scheme)
        return spec, parse_target(text, **options)
    if ":" in text:
        raise ConfigurationError(
            f"Cannot read the history store URL {redact_url(target)!r}: expected 'scheme://…' with a scheme of "
            "letters, digits, '+', '-' or '.', such as 'sqlite:///history.db' or 'memory://'."
        )
    try:
        normalise_name(text)
    except ConfigurationError:
        raise ConfigurationError(f"{target!r} is neither a store URL (scheme://…) nor a backend name.") from None
    spec = registry.by_name(text)
    return spec, parse_target(f"{spec.schemes[0]}://", **options)


def open_target(target: str, registry: BackendRegistry, **options: Any) -> HistoryStore:
    """Build the store a URL (``scheme://…``) or a backend name names; it opens on first use."""
    spec, parsed = find_backend(target, registry, **options)
    return spec.factory(parsed)


def chosen_target(target: str | None, registry: BackendRegistry) -> str:
    """``target``, or the selector's choice when it is ``None``."""
    if target is not None:
        if not isinstance(target, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(f"Expected a store URL or backend name, got {type(target).__name__} {target!r}.")
        return target
    selection = resolve_target(registry=registry)
    logger.debug("Store %r chosen by %s.", selection.target, selection.source)
    return selection.target


def open_store(
    target: str | HistoryStore | None = None,
    *,
    registry: BackendRegistry | None = None,
    **options: Any,
) -> HistoryStore:
    """Open a history store.

    ``target`` is a URL (``memory://``, ``sqlite:///path.db``, ``jsonl:///dir``,
    ``foundry://``, ``postgresql://…``), a backend name, or a store (returned as is).
    With no target the choice comes from :func:`resolve_target`. Keyword ``options`` are
    merged with the URL's query (see :func:`parse_target`) and go to the backend.

    This does no I/O, so it may be called on an event loop: every backend opens its store (its
    file, its connection pool) on first use, off the loop. A missing or damaged store is
    reported by the first awaited call; ``await store.open()``, ``async with open_store(...)``
    or :func:`open_store_async` open it at once.
    """
    if target is not None and not isinstance(target, str):
        given: Any = target  # as an untyped caller may pass it
        if isinstance(given, HistoryStore):
            return given
        raise ConfigurationError(
            f"open_store() takes a URL, a backend name or a HistoryStore, got {type(target).__name__} {target!r}."
        )
    registry = registry or get_registry()
    if target is None:
        selection = resolve_target(registry=registry)
        logger.debug("History store %r chosen by %s.", selection.target, selection.source)
        target = selection.target
    return open_target(target, registry, **options)


async def open_now(store: HistoryStore) -> HistoryStore:
    """Open ``store`` now when it can be (it has an ``open()``, as every :class:`HistoryStoreBase` does)."""
    opener: Callable[[], Awaitable[object]] | None = getattr(store, "open", None)
    if opener is not None:
        await opener()
    return store


async def open_store_async(
    target: str | HistoryStore | None = None,
    *,
    registry: BackendRegistry | None = None,
    **options: Any,
) -> HistoryStore:
    """:func:`open_store`, then open the store at once, without blocking the event loop.

    Errors of a missing, damaged or unreachable store are raised here rather than by the first
    call; a store this function built is closed again before the error is raised.
    """
    store = open_store(target, registry=registry, **options)
    try:
        return await open_now(store)
    except BaseException:
        if store is not target:
            await store.aclose()
        raise
