"""Lazy package exports, so that discovering a backend does not import its driver; and names that moved."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    homes: Mapping[str, str],
    public: Iterable[str],
    *,
    moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` that import each name from its home on first use.

    ``homes`` maps a public name to the (relative) module defining it::

        __getattr__, __dir__ = lazy_exports(__name__, {"MyStore": "._store"}, __all__)

    ``moved`` maps a name that left the package to the text saying where it lives now (its home is in
    ``homes`` too): it still works, with a ``DeprecationWarning`` naming the new place on every use,
    and ``dir()`` no longer lists it.
    """
    names = sorted(public)
    deprecated = dict(moved or {})

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        if name in deprecated:
            warnings.warn(
                f"{package}.{name} is deprecated and will be removed in the next release: {deprecated[name]}.",
                DeprecationWarning,
                stacklevel=2,
            )
            return value  # not cached, so that every use warns
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names} - deprecated.keys())

    return __getattr__, __dir__
