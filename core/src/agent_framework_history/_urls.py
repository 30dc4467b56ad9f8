"""Reading store options from a URL's query string (kept for backends written before :class:`StoreTarget`)."""

from __future__ import annotations

from ._target import parse_target

__all__ = ["url_query_options"]


def url_query_options(target: str, *, label: str = "store") -> dict[str, str]:
    """The ``name=value`` pairs of ``target``'s query string, read by :func:`parse_target`.

    A malformed query or a name given twice raises :class:`ConfigurationError` naming the URL.
    ``label`` is no longer used (messages name the URL's scheme); a factory now receives the
    options already parsed, in :attr:`StoreTarget.options`.
    """
    del label
    return parse_target(target).query
