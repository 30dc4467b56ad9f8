"""Reading ``jsonl://`` URLs and options into a store."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from agent_framework_history.backend import ConfigurationError, url_query_options

from ._store import DEFAULT_INLINE_WRITE_LIMIT, DEFAULT_MAX_OPEN_FILES, JsonlHistoryStore

__all__ = ["DEFAULT_ROOT", "open_jsonl_store", "root_from_url"]

DEFAULT_ROOT: Final = "./.af-history"
"""The directory ``jsonl://`` (and the backend name ``jsonl``) opens, relative to the current directory."""

_DRIVE_RE: Final = re.compile(r"^/[A-Za-z]:[/\\]")
_CHOICES: Final = {"durability": ("flush", "fsync"), "on_corrupt": ("raise", "skip")}
_INTS: Final = {"inline_write_limit": DEFAULT_INLINE_WRITE_LIMIT, "max_open_files": DEFAULT_MAX_OPEN_FILES}
_OPTIONS: Final = (*_CHOICES, *_INTS)
_FORMS: Final = (
    "Use jsonl:///absolute/dir, jsonl://./relative/dir (or jsonl:///./relative/dir), or jsonl:// for ./.af-history."
)


def root_from_url(url: str) -> str:
    """The directory a ``jsonl://`` URL names (relative paths stay relative to the current directory).

    - ``jsonl://`` → ``./.af-history``
    - ``jsonl:///abs/dir`` → ``/abs/dir`` (``jsonl:///C:/dir`` → ``C:/dir``)
    - ``jsonl://./dir``, ``jsonl://../dir``, ``jsonl:///./dir``, ``jsonl:///../dir`` → relative
      ``./dir`` / ``../dir``; ``jsonl://.`` and ``jsonl:///.`` → the current directory
    - any other host (``jsonl://data/x``) is refused: it could mean ``./data/x`` or ``/x``.

    The path is percent-decoded (``%20`` for a space).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "jsonl":
        raise ConfigurationError(f"Not a jsonl:// URL: {url!r}. {_FORMS}")
    if parts.fragment:
        raise ConfigurationError(f"jsonl:// URLs take no #fragment: {url!r}.")
    host, path = parts.netloc, unquote(parts.path)
    if host in (".", ".."):
        return host + path if path else host
    if host:
        raise ConfigurationError(
            f"The jsonl URL {url!r} names {host!r} where a host would go, which is ambiguous "
            f"(it could mean ./{host}{path} or {path or '/'}). {_FORMS}"
        )
    if not path:
        return DEFAULT_ROOT
    if path in ("/.", "/..") or path.startswith(("/./", "/../")):
        return path[1:]
    if _DRIVE_RE.match(path):
        return path[1:]
    return path


def _convert(name: str, value: Any, where: str) -> Any:
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            choices = " or ".join(repr(c) for c in _CHOICES[name])
            raise ConfigurationError(f"{where}: {name} must be {choices}, got {value!r}.")
        return value
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ConfigurationError(f"{where}: {name} must be a whole number, got {value!r}.") from None
    least = 1 if name == "max_open_files" else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(f"{where}: {name} must be an int >= {least}, got {value!r}.")
    return value


def open_jsonl_store(target: str = "jsonl://", /, **options: Any) -> JsonlHistoryStore:
    """Open the store a ``jsonl://`` URL names, with options from its query and/or keywords.

    Options: ``durability`` (``"flush"`` | ``"fsync"``), ``on_corrupt`` (``"raise"`` | ``"skip"``),
    ``inline_write_limit`` (bytes), ``max_open_files``. A URL query (``?durability=fsync``) and a
    keyword may both give an option only if they agree.
    """
    root = root_from_url(target)
    unknown = sorted(set(options) - set(_OPTIONS))
    query = url_query_options(target, label="jsonl")
    unknown += sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"The jsonl backend has no option {', '.join(repr(u) for u in unknown)}; it takes {', '.join(_OPTIONS)}."
        )
    chosen: dict[str, Any] = {}
    for name in _OPTIONS:
        from_query = _convert(name, query[name], f"In {target!r}") if name in query else None
        from_kwargs = _convert(name, options[name], "open_store() keyword") if name in options else None
        if from_query is not None and from_kwargs is not None and from_query != from_kwargs:
            raise ConfigurationError(
                f"{name} is {from_query!r} in the URL {target!r} but {from_kwargs!r} as a keyword; give it once."
            )
        value = from_kwargs if from_kwargs is not None else from_query
        if value is not None:
            chosen[name] = value
    return JsonlHistoryStore(root, **chosen)
