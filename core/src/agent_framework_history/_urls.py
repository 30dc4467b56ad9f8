"""Reading store options from a URL's query string."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from ._errors import ConfigurationError

__all__ = ["url_query_options"]


def url_query_options(target: str, *, label: str = "store") -> dict[str, str]:
    """The ``name=value`` pairs of ``target``'s query string.

    A malformed query or a name given twice raises :class:`ConfigurationError` naming the URL;
    ``label`` says whose URL it is in that message (``"SQLite"``, ``"jsonl"``…).
    """
    query = urlsplit(target).query
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise ConfigurationError(f"Cannot read the query string of the {label} URL {target!r}: {exc}.") from exc
    options: dict[str, str] = {}
    for name, value in pairs:
        if name in options:
            raise ConfigurationError(f"The {label} URL {target!r} gives the option {name!r} twice.")
        options[name] = value
    return options
