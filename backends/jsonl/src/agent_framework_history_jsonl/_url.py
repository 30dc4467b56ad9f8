"""Reading ``jsonl://`` URLs and options into a store."""

from __future__ import annotations

from typing import Any, Final

from agent_framework_history.backend import ConfigurationError, StoreTarget, local_path, parse_target

from ._store import DEFAULT_INLINE_WRITE_LIMIT, DEFAULT_MAX_OPEN_FILES, JsonlHistoryStore

__all__ = ["DEFAULT_ROOT", "jsonl_store_from_target", "open_jsonl_store", "root_from_url", "root_of"]

DEFAULT_ROOT: Final = "./.af-history"
"""The directory ``jsonl://`` (and the backend name ``jsonl``) opens, relative to the current directory."""

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
    return root_of(parse_target(url))


def root_of(target: StoreTarget) -> str:
    """The directory a parsed ``jsonl://`` target names (see :func:`root_from_url`)."""
    if target.scheme != "jsonl":
        raise ConfigurationError(f"Not a jsonl:// URL: {target.redacted!r}. {_FORMS}")
    if target.fragment:
        raise ConfigurationError(f"jsonl:// URLs take no #fragment: {target.redacted!r}.")
    return local_path(target, default=DEFAULT_ROOT, forms=_FORMS)


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


def jsonl_store_from_target(target: StoreTarget) -> JsonlHistoryStore:
    """The store a parsed ``jsonl://`` target names, with its options (what the plugin's factory builds)."""
    root = root_of(target)
    target.refuse_unknown(_OPTIONS, "jsonl")
    chosen = {name: _convert(name, value, target.where(name).capitalize()) for name, value in target.options.items()}
    return JsonlHistoryStore(root, **chosen)


def open_jsonl_store(target: str = "jsonl://", /, **options: Any) -> JsonlHistoryStore:
    """Open the store a ``jsonl://`` URL names, with options from its query and/or keywords.

    Options: ``durability`` (``"flush"`` | ``"fsync"``), ``on_corrupt`` (``"raise"`` | ``"skip"``),
    ``inline_write_limit`` (bytes), ``max_open_files``. A URL query (``?durability=fsync``) and a
    keyword may both give an option only if they agree.
    """
    return jsonl_store_from_target(parse_target(target, **options))
