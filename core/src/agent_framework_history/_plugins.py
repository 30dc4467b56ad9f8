"""Backend discovery: pluggy hooks fed by entry points, with a loader that survives broken plugins."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Final, Protocol, cast

import pluggy

from ._errors import BackendConflictError, UnknownBackendError
from ._store import HistoryStore
from ._target import NAME_RULE, SCHEME_RULE, StoreTarget, normalise_name, normalise_scheme

__all__ = [
    "DISABLE_ENV",
    "NAME",
    "BackendInfo",
    "BackendRegistry",
    "BackendSpec",
    "ExtraStoreFactory",
    "StoreFactory",
    "StoreProbe",
    "available_backends",
    "get_registry",
    "hookimpl",
    "hookspec",
]

logger = logging.getLogger("agent_framework_history")

NAME: Final = "agent_framework_history"
"""The pluggy project name and the entry-point group backends register under."""

DISABLE_ENV: Final = "AF_HISTORY_DISABLE_PLUGINS"
"""Comma-separated entry-point or backend names that are not loaded."""

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)

#: Distribution to install for the first-party backends, used in error hints.
KNOWN_DISTRIBUTIONS: Final = {
    "memory": "agent-framework-history-memory",
    "jsonl": "agent-framework-history-jsonl",
    "sqlite": "agent-framework-history-sqlite",
    "foundry": "agent-framework-history-foundry",
    "postgresql": "agent-framework-history-postgres",
    "postgres": "agent-framework-history-postgres",
}


class StoreFactory(Protocol):
    """Builds a store from a parsed target (its URL and options, see :class:`StoreTarget`).

    It must do no I/O: the store opens on first use (or on ``await store.open()``).
    """

    def __call__(self, target: StoreTarget, /) -> HistoryStore: ...


class StoreProbe(Protocol):
    """Tells whether the store a target names is there, without creating or changing anything."""

    def __call__(self, target: StoreTarget, /) -> bool: ...


class ExtraStoreFactory(Protocol):
    """Builds a backend's response store or session records from a parsed target."""

    def __call__(self, target: StoreTarget, /) -> Any: ...


def _normalise(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"BackendSpec {kind} must be a string, got {type(value).__name__} {value!r}.")
    try:
        return normalise_name(value) if kind == "name" else normalise_scheme(value)
    except ValueError:
        rule = NAME_RULE if kind == "name" else SCHEME_RULE
        raise ValueError(f"BackendSpec {kind} {value!r} is not valid: use {rule}.") from None


def _takes_url(function: Callable[..., Any]) -> bool:
    """Whether ``function`` is written to the old contract, ``(url: str, /, **options)``.

    It is when it takes ``**options``, or when its first parameter is annotated ``str``.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin or C callable: read as the current contract
        return False
    parameters = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return bool(positional) and positional[0].annotation in (str, "str")


def _adapted(name: str, field_name: str, function: Any) -> Any:
    """``function`` itself, or, written to the old ``(url, **options)`` contract, a wrapper taking a StoreTarget."""
    if function is None or not _takes_url(function):
        return function
    label = getattr(function, "__qualname__", None) or repr(function)
    old = "(url)" if field_name == "exists" else "(url, **options)"
    warnings.warn(
        f"BackendSpec {name!r}: {field_name} {label} takes {old}, the contract before StoreTarget; "
        "make it take one StoreTarget (its url, scheme, location and options; see docs/writing-a-backend.md). "
        "The old form is adapted for this release only.",
        DeprecationWarning,
        stacklevel=4,
    )
    if field_name == "exists":

        @functools.wraps(function)
        def probe(target: StoreTarget, /) -> Any:
            return function(target.url)

        return probe

    @functools.wraps(function)
    def build(target: StoreTarget, /) -> Any:
        return function(target.url, **target.keywords)

    return build


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """What a plugin's ``history_store_backends`` hook yields for each backend it offers.

    ``name`` is normalised to lower case with ``-`` for ``_``; ``schemes`` are URL schemes
    without ``://``. ``factory(target)`` receives the :class:`StoreTarget` the core parsed (the
    URL's query merged with the caller's keyword options); it must import heavy drivers itself,
    so that discovering the backend costs nothing until it is chosen, and must not do I/O: the
    store opens on first use, or on ``await store.open()``.

    Optional: ``response_store(target)`` builds the hosting SDK's response store
    (``ResponseProviderProtocol``, see :func:`open_response_store`) and ``session_records(target)``
    the versioned records behind :func:`open_session_store`, on the same URLs.
    ``exists(target)`` says whether the store a target names is there (its file, directory, …)
    without creating it: commands that only read (``af-history check``, ``migrate --from``, …)
    refuse a missing store instead of opening, and so creating, an empty one.

    A callable written to the contract before :class:`StoreTarget` (``factory(url, **options)``,
    ``exists(url)``; recognised by its ``**options`` or a first parameter annotated ``str``) is
    adapted, with a ``DeprecationWarning``, for one release.
    """

    name: str
    factory: StoreFactory
    schemes: tuple[str, ...] = ()
    description: str = ""
    response_store: ExtraStoreFactory | None = None
    session_records: ExtraStoreFactory | None = None
    exists: StoreProbe | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _normalise("name", self.name))
        if not callable(self.factory):
            raise ValueError(f"BackendSpec {self.name!r}: factory must be callable, got {self.factory!r}.")
        raw_schemes: Any = self.schemes
        if isinstance(raw_schemes, str):
            raw_schemes = (raw_schemes,)
        schemes = tuple(dict.fromkeys(_normalise("scheme", s) for s in raw_schemes))
        object.__setattr__(self, "schemes", schemes or (self.name,))
        description: Any = self.description  # as an untyped plugin may pass it
        if not isinstance(description, str):
            raise ValueError(f"BackendSpec {self.name!r}: description must be a string.")
        for field_name in ("response_store", "session_records", "exists"):
            value = getattr(self, field_name)
            if value is not None and not callable(value):
                raise ValueError(f"BackendSpec {self.name!r}: {field_name} must be callable or None, got {value!r}.")
        for field_name in ("factory", "response_store", "session_records", "exists"):
            object.__setattr__(self, field_name, _adapted(self.name, field_name, getattr(self, field_name)))


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """One row of :func:`available_backends`."""

    name: str
    distribution: str | None
    version: str | None
    schemes: tuple[str, ...] = ()
    description: str = ""
    error: str | None = None
    entry_point: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _HookSpecs:
    @hookspec
    def history_store_backends(self) -> Iterable[BackendSpec]:  # type: ignore[empty-body]
        """Return (or yield) the backends this plugin offers.

        Example, in a module named by an ``agent_framework_history`` entry point::

            from agent_framework_history.backend import BackendSpec, hookimpl

            @hookimpl
            def history_store_backends():
                def factory(target: StoreTarget) -> HistoryStore:
                    from my_package._store import MyStore   # imported only when chosen
                    return MyStore.from_target(target)
                yield BackendSpec("mine", factory, schemes=("mine",), description="My store")
        """
        ...


@dataclass(slots=True)
class _Origin:
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None


@dataclass(slots=True)
class _Entry:
    spec: BackendSpec
    origin: _Origin
    conflict: str | None = None


@dataclass(slots=True)
class _Snapshot:
    by_name: dict[str, _Entry] = field(default_factory=lambda: {})
    by_scheme: dict[str, _Entry] = field(default_factory=lambda: {})
    infos: list[BackendInfo] = field(default_factory=lambda: [])


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {_name_key(part) for part in raw.split(",") if part.strip()}


def _name_key(value: str) -> str:
    """``value`` as a backend name (see :func:`normalise_name`); an invalid one as is, lower case, to match nothing."""
    try:
        return normalise_name(value)
    except ValueError:
        return value.strip().lower()


class BackendRegistry:
    """Owns one pluggy plugin manager and the backends its plugins offer.

    ``load_entry_points=False`` gives an empty registry for tests, filled with ``register()``.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(NAME)
        self._pm.add_hookspecs(_HookSpecs)
        self._origins: dict[int, _Origin] = {}
        self._failures: list[BackendInfo] = []
        self._load_entry_points = load_entry_points
        self._loaded = False
        self._snapshot: _Snapshot | None = None
        self._warned: set[str] = set()
        self._lock = threading.RLock()

    def _warn_once(self, message: str, *args: object) -> None:
        """Log a plugin failure once per registry, however often the backends are looked up again."""
        text = message % args
        if text not in self._warned:
            self._warned.add(text)
            logger.warning("%s", text)

    def register(self, plugin: object, *, distribution: str | None = None, version: str | None = None) -> None:
        """Register a plugin object (a module or instance holding ``@hookimpl`` functions)."""
        with self._lock:
            self._pm.register(plugin)
            self._pm.check_pending()
            self._origins[id(plugin)] = _Origin(distribution, version)
            self._snapshot = None

    def _load(self) -> None:
        if self._loaded or not self._load_entry_points:
            self._loaded = True
            return
        self._loaded = True
        disabled = _disabled_names()
        for ep in metadata.entry_points(group=NAME):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            ep_label = f"{ep.name} = {ep.value}"
            if _name_key(ep.name) in disabled:
                logger.info("History backend plugin %r is disabled by %s.", ep.name, DISABLE_ENV)
                continue
            try:
                plugin = ep.load()
                if not isinstance(plugin, ModuleType) and not hasattr(plugin, "history_store_backends"):
                    raise TypeError(f"entry point must name a module with hook implementations, got {plugin!r}")
                if self._pm.is_registered(plugin):
                    continue
                self._pm.register(plugin, name=f"{dist_name or '?'}:{ep.name}")
                self._pm.check_pending()
            except Exception as exc:  # one broken plugin must not stop the others
                self._warn_once(
                    "History backend plugin %r (entry point %r from %s) failed to load: %s: %s",
                    ep.name,
                    ep_label,
                    dist_name or "an unknown distribution",
                    type(exc).__name__,
                    exc,
                )
                self._failures.append(
                    BackendInfo(
                        name=_name_key(ep.name),
                        distribution=dist_name,
                        version=version,
                        error=f"{type(exc).__name__}: {exc}",
                        entry_point=ep_label,
                    )
                )
                continue
            self._origins[id(plugin)] = _Origin(dist_name, version, ep_label)

    def _build(self) -> _Snapshot:
        with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            self._load()
            disabled = _disabled_names()
            snapshot = _Snapshot()
            hook_failures: list[BackendInfo] = []  # found again by every build (a register() starts a new one)
            infos: dict[str, BackendInfo] = {}
            for impl, call in self._callers():
                origin = self._origins.get(id(impl.plugin), _Origin())
                try:
                    specs = [spec for result in call() for spec in result]
                    for spec in cast("list[object]", specs):  # a plugin's hook may yield anything
                        if not isinstance(spec, BackendSpec):
                            raise TypeError(f"history_store_backends yielded {spec!r}, not a BackendSpec")
                except Exception as exc:
                    label = origin.entry_point or origin.distribution or impl.plugin_name
                    self._warn_once("History backend plugin %s failed: %s: %s", label, type(exc).__name__, exc)
                    hook_failures.append(
                        BackendInfo(
                            name=impl.plugin_name.rsplit(":", 1)[-1],
                            distribution=origin.distribution,
                            version=origin.version,
                            error=f"{type(exc).__name__}: {exc}",
                            entry_point=origin.entry_point,
                        )
                    )
                    continue
                for spec in specs:
                    if spec.name in disabled:
                        continue
                    self._add(snapshot, _Entry(spec, origin), infos)
            snapshot.infos = sorted(infos.values(), key=lambda i: i.name) + self._failures + hook_failures
            self._snapshot = snapshot
            return snapshot

    def _callers(self) -> list[tuple[pluggy.HookImpl, Callable[[], list[Iterable[BackendSpec]]]]]:
        """Each implementation of the hook, with a caller that runs it alone through the plugin manager.

        Calls through ``pm.hook`` (here a subset of it) are what ``pm.trace`` and
        ``pm.add_hookcall_monitoring`` see; one caller per plugin, the others left out, keeps a
        broken plugin from hiding the rest.
        """
        impls = self._pm.hook.history_store_backends.get_hookimpls()
        plugins = [impl.plugin for impl in impls]
        callers: list[tuple[pluggy.HookImpl, Callable[[], list[Iterable[BackendSpec]]]]] = []
        for impl in impls:
            others = [plugin for plugin in plugins if plugin is not impl.plugin]
            callers.append((impl, self._pm.subset_hook_caller("history_store_backends", others)))
        return callers

    @staticmethod
    def _add(snapshot: _Snapshot, entry: _Entry, infos: dict[str, BackendInfo]) -> None:
        spec = entry.spec
        other = snapshot.by_name.get(spec.name)
        if other is not None:
            first = other.origin.distribution or "an unregistered plugin"
            second = entry.origin.distribution or "an unregistered plugin"
            message = (
                f"History backend {spec.name!r} is registered twice: by {first}"
                f" and by {second}. Uninstall one of them, or block one"
                f" with {DISABLE_ENV}."
            )
            other.conflict = entry.conflict = message
            infos[spec.name] = _info(other, error=message)
            return
        snapshot.by_name[spec.name] = entry
        infos[spec.name] = _info(entry)
        for scheme in spec.schemes:
            holder = snapshot.by_scheme.get(scheme)
            if holder is not None and holder is not entry:
                message = (
                    f"URL scheme {scheme!r} is claimed by backend {holder.spec.name!r}"
                    f" ({holder.origin.distribution or 'an unregistered plugin'}) and by {spec.name!r}"
                    f" ({entry.origin.distribution or 'an unregistered plugin'}). Uninstall one of them, or block one"
                    f" with {DISABLE_ENV}."
                )
                holder.conflict = entry.conflict = message
                infos[holder.spec.name] = _info(holder, error=message)
                infos[spec.name] = _info(entry, error=message)
                continue
            snapshot.by_scheme[scheme] = entry

    def available(self) -> list[BackendInfo]:
        """Every backend found, working or not, sorted by name; failures come last."""
        return list(self._build().infos)

    def names(self) -> list[str]:
        return sorted(self._build().by_name)

    def schemes(self) -> list[str]:
        return sorted(self._build().by_scheme)

    def _describe_installed(self) -> str:
        snapshot = self._build()
        if not snapshot.by_name:
            return "No history backend is installed"
        return "Installed: " + ", ".join(
            f"{name} ({', '.join(s + '://' for s in entry.spec.schemes)})"
            for name, entry in sorted(snapshot.by_name.items())
        )

    def _unknown(self, what: str, value: str) -> UnknownBackendError:
        hint = KNOWN_DISTRIBUTIONS.get(value)
        install = (
            f" Install it with: pip install {hint}"
            if hint
            else " Install the distribution that provides it (the plugin may not be installed)."
        )
        failed = [i for i in self._build().infos if i.error and i.name == value]
        broken = f" It was found but failed to load: {failed[0].error}." if failed else ""
        return UnknownBackendError(
            f"No history backend {what} {value!r}.{broken} {self._describe_installed()}.{install}"
        )

    def _usable(self, entry: _Entry) -> BackendSpec:
        if entry.conflict is not None:
            raise BackendConflictError(entry.conflict)
        return entry.spec

    def by_name(self, name: str) -> BackendSpec:
        key = _name_key(name)
        entry = self._build().by_name.get(key)
        if entry is None:
            raise self._unknown("named", key)
        return self._usable(entry)

    def by_scheme(self, scheme: str) -> BackendSpec:
        try:
            key = normalise_scheme(scheme)
        except ValueError:
            key = scheme.strip().lower()
        entry = self._build().by_scheme.get(key)
        if entry is None:
            raise self._unknown("for URL scheme", key)
        return self._usable(entry)

    def has(self, name: str) -> bool:
        entry = self._build().by_name.get(name)
        return entry is not None and entry.conflict is None


def _info(entry: _Entry, *, error: str | None = None) -> BackendInfo:
    return BackendInfo(
        name=entry.spec.name,
        distribution=entry.origin.distribution,
        version=entry.origin.version,
        schemes=entry.spec.schemes,
        description=entry.spec.description,
        error=error,
        entry_point=entry.origin.entry_point,
    )


_registry: BackendRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> BackendRegistry:
    """The process-wide registry, loaded from entry points on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = BackendRegistry()
        return _registry


def set_registry(registry: BackendRegistry | None) -> BackendRegistry | None:
    """Replace the process-wide registry (``None`` reloads entry points on next use); returns the old one."""
    global _registry
    with _registry_lock:
        old, _registry = _registry, registry
        return old


def available_backends() -> list[BackendInfo]:
    """Name, distribution, version, schemes, description and load error of every backend found."""
    return get_registry().available()
