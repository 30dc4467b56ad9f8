"""``open_foundry_store``: read a ``foundry://`` URL and options, build the SDK provider and the store."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from agent_framework_history import ConfigurationError

from ._envelope import Identity
from ._store import FoundryHistoryStore

__all__ = ["OPTIONS", "open_foundry_store", "resolve_endpoint"]

OPTIONS: Final = frozenset({"credential", "response_provider", "raise_on_write_error", "cache_size"})


def resolve_endpoint(target: str) -> str:
    """The project endpoint a ``foundry://`` URL names.

    ``foundry://`` takes it from ``AgentConfig.from_env().project_endpoint``
    (``FOUNDRY_PROJECT_ENDPOINT``); ``foundry://<host>[/path]`` means ``https://<host>[/path]``.
    """
    parts = urlsplit(target.strip())
    if parts.scheme.lower() != "foundry":
        raise ConfigurationError(f"Not a foundry:// URL: {target!r}.")
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"foundry:// URLs take no query or fragment, got {target!r}; pass options as keyword arguments."
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            f"foundry:// URLs carry no credentials, got {target!r}; pass credential=... (an async Azure credential)."
        )
    if parts.netloc:
        return f"https://{parts.netloc}{parts.path.rstrip('/')}"
    if parts.path.strip("/"):
        raise ConfigurationError(f"foundry:// URL {target!r} has a path but no host; use foundry://<host>/<path>.")
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


def open_foundry_store(target: str = "foundry://", /, **options: Any) -> FoundryHistoryStore:
    """Open ``foundry://`` or ``foundry://<host>[/path]``.

    Options: ``credential`` (an async Azure credential; ``azure.identity.aio.DefaultAzureCredential``
    when omitted), ``response_provider`` (any ``ResponseProviderProtocol`` object used instead of a
    ``FoundryStorageProvider``; the URL's endpoint is then not needed), ``raise_on_write_error``
    (default ``False``: storage errors on save are logged and counted), ``cache_size`` (entries of the
    in-process chain cache, default 4096).
    """
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"The foundry backend does not take the options {unknown}; it takes {sorted(OPTIONS)}."
        )
    credential = options.get("credential")
    provider = options.get("response_provider")
    raise_on_write_error = options.get("raise_on_write_error", False)
    if not isinstance(raise_on_write_error, bool):
        raise ConfigurationError(f"raise_on_write_error must be True or False, got {raise_on_write_error!r}.")
    cache_size = options.get("cache_size", 4096)
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
        raise ConfigurationError(f"cache_size must be a positive int, got {cache_size!r}.")
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
        return FoundryHistoryStore(
            provider, identity=identity, raise_on_write_error=raise_on_write_error, cache_size=cache_size
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
    storage = FoundryStorageProvider(credential, settings=settings)
    owned.insert(0, storage)
    return FoundryHistoryStore(
        storage,
        identity=identity,
        raise_on_write_error=raise_on_write_error,
        owned=tuple(owned),
        cache_size=cache_size,
    )


def resolve_endpoint_if_given(target: str) -> None:
    """Check the URL's form when a provider is passed (its endpoint, if any, is then unused)."""
    parts = urlsplit(target.strip())
    if parts.scheme.lower() != "foundry" or parts.query or parts.fragment:
        raise ConfigurationError(f"Not a plain foundry:// URL: {target!r}.")
