"""``open_foundry_store``: read a ``foundry://`` URL and options, build the SDK provider and the store."""

from __future__ import annotations

from typing import Any, Final, Literal

from agent_framework_history.backend import ConfigurationError, StoreTarget, parse_target

from ._envelope import Identity
from ._store import FoundryHistoryStore
from ._wire import DEFAULT_TIMEOUT, check_timeout, harden

__all__ = ["OPTIONS", "QUERY_OPTIONS", "foundry_store_from_target", "open_foundry_store", "resolve_endpoint"]

OPTIONS: Final = frozenset(
    {"credential", "response_provider", "raise_on_write_error", "cache_size", "timeout", "host_stores"}
)
QUERY_OPTIONS: Final = frozenset({"raise_on_write_error", "cache_size", "timeout", "host_stores"})
"""Options a ``foundry://`` URL may also carry in its query string (given both ways, they must agree)."""

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})


def _flag(name: str, value: object, *, auto: bool = False, text_ok: bool = False) -> bool | Literal["auto"]:
    """A boolean option; ``text_ok``: it came from a URL query, so ``true`` / ``false`` text is read."""
    if isinstance(value, bool):
        return value
    if auto and value == "auto":
        return "auto"
    if text_ok and isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if auto and text == "auto":
            return "auto"
    allowed = "True, False or 'auto'" if auto else "True or False"
    raise ConfigurationError(f"{name} must be {allowed}, got {value!r}.")


def _cache_size(value: object, *, text_ok: bool) -> int:
    if text_ok and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"cache_size must be a positive int, got {value!r}.")
    return value


def _shares_host_storage(endpoint: str) -> bool:
    """Whether this is a Foundry container whose host keeps its turns in the storage of ``endpoint``.

    ``ResponsesHostServer`` stores each turn in Foundry storage when hosted (its default response
    store is a ``FoundryStorageProvider`` for the container's project endpoint).
    """
    from azure.ai.agentserver.core import AgentConfig

    try:
        config = AgentConfig.from_env()
    except ValueError as exc:
        raise ConfigurationError(
            f"The foundry history store cannot read the hosting environment: AgentConfig.from_env() said: {exc}"
        ) from exc
    hosted_endpoint = (config.project_endpoint or "").rstrip("/")
    return bool(config.is_hosted) and hosted_endpoint.lower() == endpoint.rstrip("/").lower()


def resolve_endpoint(target: str | StoreTarget) -> str:
    """The project endpoint a ``foundry://`` URL names.

    ``foundry://`` takes it from ``AgentConfig.from_env().project_endpoint``
    (``FOUNDRY_PROJECT_ENDPOINT``); ``foundry://<host>[/path]`` means ``https://<host>[/path]``.
    """
    parsed = _checked(target)
    host, path = parsed.host, parsed.location[len(parsed.host) :]
    if host:
        return f"https://{host}{path.rstrip('/')}"
    if path.strip("/"):
        raise ConfigurationError(f"foundry:// URL {parsed.url!r} has a path but no host; use foundry://<host>/<path>.")
    from azure.ai.agentserver.core import AgentConfig

    try:
        endpoint = AgentConfig.from_env().project_endpoint
    except ValueError as exc:
        raise ConfigurationError(
            f"Cannot read the Foundry project endpoint: AgentConfig.from_env() said: {exc}"
        ) from exc
    if not endpoint:
        raise ConfigurationError(
            "foundry:// needs the Foundry project endpoint, and FOUNDRY_PROJECT_ENDPOINT is not set. The hosting "
            "platform sets it inside a hosted agent; elsewhere set it, or use "
            "foundry://<account>.services.ai.azure.com/api/projects/<project>."
        )
    return endpoint


def _checked(target: str | StoreTarget) -> StoreTarget:
    """``target`` parsed, and checked to be a plain ``foundry://`` URL (no fragment, no credentials)."""
    parsed = parse_target(target) if isinstance(target, str) else target
    if parsed.scheme != "foundry":
        raise ConfigurationError(f"Not a foundry:// URL: {parsed.redacted!r}.")
    if parsed.fragment:
        raise ConfigurationError(f"foundry:// URLs take no fragment, got {parsed.redacted!r}.")
    if "@" in parsed.host:
        raise ConfigurationError(
            f"foundry:// URLs carry no credentials, got {parsed.redacted!r}; pass credential=... "
            "(an async Azure credential)."
        )
    return parsed


def open_foundry_store(target: str = "foundry://", /, **options: Any) -> FoundryHistoryStore:
    """Open ``foundry://`` or ``foundry://<host>[/path]``.

    Options: ``credential`` (an async Azure credential; ``azure.identity.aio.DefaultAzureCredential``
    when omitted), ``response_provider`` (any ``ResponseProviderProtocol`` object used instead of a
    ``FoundryStorageProvider``; the URL's endpoint is then not needed), ``raise_on_write_error``
    (default ``False``: storage errors on save are logged and counted), ``cache_size`` (entries of the
    in-process chain cache, default 4096), ``timeout`` (seconds each storage request may take to
    connect and then to answer, per attempt; default 30), ``host_stores`` (``"auto"``, the default:
    true in a Foundry container whose project endpoint is this store's; ``True`` / ``False``): the
    serving host stores each turn in this storage itself, so ``append`` leaves the turn to it. The
    last four may also be given in the URL's query (``foundry://host/path?timeout=10``); given both
    ways, they must agree.
    """
    return foundry_store_from_target(parse_target(target, **options))


def foundry_store_from_target(target: StoreTarget) -> FoundryHistoryStore:
    """The store a parsed ``foundry://`` target names, with its options (what the plugin's factory builds)."""
    not_in_query = sorted(set(target.query) - QUERY_OPTIONS)
    if not_in_query:
        raise ConfigurationError(
            f"The foundry URL {target.redacted!r} has the query option(s) {not_in_query}; a URL may carry "
            f"{sorted(QUERY_OPTIONS)} (pass credential= / response_provider= as keyword arguments)."
        )
    target.refuse_unknown(OPTIONS, "foundry", among=target.keywords)
    merged = target.options
    credential = merged.get("credential")
    provider = merged.get("response_provider")
    raise_on_write_error = _flag(
        "raise_on_write_error",
        merged.get("raise_on_write_error", False),
        text_ok="raise_on_write_error" in target.from_url,
    )
    cache_size = _cache_size(merged.get("cache_size", 4096), text_ok="cache_size" in target.from_url)
    timeout = check_timeout(merged.get("timeout", DEFAULT_TIMEOUT))
    host_stores = _flag(
        "host_stores", merged.get("host_stores", "auto"), auto=True, text_ok="host_stores" in target.from_url
    )
    identity = Identity.from_env()
    if provider is not None:
        from azure.ai.agentserver.responses import ResponseProviderProtocol

        if credential is not None:
            raise ConfigurationError("Pass either response_provider= or credential=, not both.")
        if not isinstance(provider, ResponseProviderProtocol):
            raise ConfigurationError(
                f"response_provider must implement ResponseProviderProtocol (e.g. InMemoryResponseProvider), "
                f"got {type(provider).__name__}."
            )
        resolve_endpoint_if_given(target)
        if "timeout" in merged:
            raise ConfigurationError(
                "timeout= applies to the FoundryStorageProvider the store builds; with response_provider= configure "
                "timeouts on that provider instead."
            )
        return FoundryHistoryStore(
            provider,
            identity=identity,
            raise_on_write_error=raise_on_write_error is True,
            cache_size=cache_size,
            host_stores=host_stores is True,  # "auto": a provider of your own is not the host's storage
        )
    endpoint = resolve_endpoint(target)
    from azure.ai.agentserver.responses import FoundryStorageProvider, FoundryStorageSettings

    try:
        settings = FoundryStorageSettings.from_endpoint(endpoint)
    except ValueError as exc:
        raise ConfigurationError(f"Foundry project endpoint {endpoint!r} is not usable: {exc}") from exc
    owned: list[Any] = []
    if credential is None:
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        owned.append(credential)
    elif not callable(getattr(credential, "get_token", None)):
        raise ConfigurationError(
            f"credential must be an async Azure credential with get_token(), got {type(credential).__name__}."
        )
    storage = harden(
        FoundryStorageProvider(credential, settings=settings), timeout=timeout, storage_url=settings.storage_base_url
    )
    owned.insert(0, storage)
    return FoundryHistoryStore(
        storage,
        identity=identity,
        raise_on_write_error=raise_on_write_error is True,
        owned=tuple(owned),
        cache_size=cache_size,
        host_stores=_shares_host_storage(endpoint) if host_stores == "auto" else host_stores,
    )


def resolve_endpoint_if_given(target: StoreTarget) -> None:
    """Check the URL's form when a provider is passed (its endpoint, if any, is then unused)."""
    if target.scheme != "foundry" or target.fragment:
        raise ConfigurationError(f"Not a plain foundry:// URL: {target.redacted!r}.")
