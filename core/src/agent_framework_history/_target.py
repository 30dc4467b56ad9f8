"""``StoreTarget``: a store URL and its options, parsed once by the core and handed to a backend.

One parser reads every target: the scheme (lower case), the location (what follows ``scheme://``
up to ``?`` or ``#``, as written), and the options, which are the URL's query merged with the
keyword options the caller passed. The one rule for the two sources: an option may come from
either; given both ways, the values must agree (the same text, or a keyword number, truth value or
``None`` that the query's text spells), else the target is refused naming both values and where each
came from. Backend names and URL schemes are normalised here too, by one function each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = [
    "StoreTarget",
    "local_path",
    "normalise_name",
    "normalise_scheme",
    "parse_target",
    "redact_url",
    "scheme_of",
]

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_SCHEME_RE: Final = re.compile(r"^[a-z][a-z0-9+.-]{0,63}$")
_URL_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DRIVE_RE: Final = re.compile(r"^/[A-Za-z]:[/\\]")
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})

NAME_RULE: Final = "a letter followed by letters, digits, - or _ (at most 64 characters)"
SCHEME_RULE: Final = "a letter followed by letters, digits, +, - or . (at most 64 characters)"


def normalise_name(value: str) -> str:
    """A backend name as the registry keeps it: trimmed, lower case, ``-`` for ``_``.

    Raises :class:`ConfigurationError` (a ``ValueError``) when the result is not a valid name.
    """
    name = value.strip().lower().replace("_", "-")
    if not _NAME_RE.match(name):
        raise ConfigurationError(f"{value!r} is not a valid backend name: use {NAME_RULE}.")
    return name


def normalise_scheme(value: str) -> str:
    """A URL scheme as the registry keeps it: trimmed, lower case, without a trailing ``://``.

    Raises :class:`ConfigurationError` (a ``ValueError``) when the result is not a valid scheme.
    """
    scheme = value.strip().lower()
    scheme = scheme.removesuffix("://")
    if not _SCHEME_RE.match(scheme):
        raise ConfigurationError(f"{value!r} is not a valid URL scheme: use {SCHEME_RULE}.")
    return scheme


def scheme_of(text: str) -> str | None:
    """The scheme of ``scheme://…`` text (normalised), or ``None`` when ``text`` does not start like a URL."""
    match = _URL_SCHEME_RE.match(text.strip())
    return normalise_scheme(match.group(1)) if match else None


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***`` (for messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return url
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))


def _agrees(text: str, value: object) -> bool:
    """Whether a keyword option's ``value`` says what the query's ``text`` says."""
    if isinstance(value, str):
        return value == text
    spelled = text.strip().lower()
    if value is None:
        return spelled in ("", "none")
    if isinstance(value, bool):
        return spelled in (_TRUE if value else _FALSE)
    if isinstance(value, int | float):
        try:
            number = float(spelled)
        except ValueError:
            return False
        return math.isfinite(number) and number == value
    return False


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """A store URL, parsed: what a backend's factory receives.

    - ``scheme``: lower case, without ``://`` (``"sqlite"``).
    - ``location``: what follows ``scheme://`` up to ``?`` or ``#``, exactly as written
      (``"/./h.db"`` for ``sqlite:///./h.db``); :attr:`host` and :attr:`path` split it.
    - ``options``: the URL's query merged with the keyword options (see :func:`parse_target`).
      Values from the query are text; keyword values are what the caller passed.
    - ``url``: the URL as given (trimmed), for messages; ``fragment``: the part after ``#``.
    - ``from_url``: the names of the options whose value is the query's text.
    """

    scheme: str
    location: str = ""
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    url: str = ""
    fragment: str = ""
    from_url: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheme", normalise_scheme(self.scheme))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if not self.url:
            object.__setattr__(self, "url", f"{self.scheme}://{self.location}")
        unknown = self.from_url - set(self.options)
        if unknown:
            raise ConfigurationError(f"StoreTarget.from_url names options it does not hold: {sorted(unknown)}.")

    @property
    def host(self) -> str:
        """The location's part before its first ``/`` (the URL's netloc), as written."""
        return self.location.partition("/")[0]

    @property
    def path(self) -> str:
        """The location from its first ``/`` on, percent-decoded (``""`` when there is none)."""
        slash = self.location.find("/")
        return "" if slash < 0 else unquote(self.location[slash:])

    @property
    def redacted(self) -> str:
        """:attr:`url` with any password replaced by ``***``."""
        return redact_url(self.url)

    @property
    def query(self) -> dict[str, str]:
        """The options that came from the URL's query (their text)."""
        return {name: value for name, value in self.options.items() if name in self.from_url}

    @property
    def keywords(self) -> dict[str, Any]:
        """The options the caller passed as keywords (including those the query repeated with the same value)."""
        return {name: value for name, value in self.options.items() if name not in self.from_url}

    def where(self, name: str) -> str:
        """How messages say where option ``name`` came from."""
        return f"in the URL {self.redacted!r}" if name in self.from_url else "as a keyword option"

    def refuse_unknown(
        self, known: Iterable[str], backend: str, *, among: Iterable[str] | None = None, hint: str = ""
    ) -> None:
        """Raise the one ``ConfigurationError`` every backend gives for options it does not take.

        ``among`` limits the check to some option names (e.g. only the keywords, where the query's other
        parameters belong to a driver); ``hint`` is added to the message.
        """
        allowed = set(known)
        unknown = sorted(set(self.options if among is None else among) - allowed)
        if not unknown:
            return
        given = ", ".join(f"{name!r} ({self.where(name)})" for name in unknown)
        takes = f"its options are {', '.join(sorted(allowed))}" if allowed else "it takes no options"
        raise ConfigurationError(f"The {backend} backend has no option {given}; {takes}.{f' {hint}' if hint else ''}")

    def url_without(self, names: Iterable[str]) -> str:
        """:attr:`url` without the query parameters called ``names``; the others stay exactly as written."""
        drop = set(names)
        base, _, rest = self.url.partition("?")
        query = rest.partition("#")[0]
        kept = [piece for piece in query.split("&") if piece and _piece_name(piece) not in drop] if query else []
        return base.partition("#")[0] + (f"?{'&'.join(kept)}" if kept else "")


def _piece_name(piece: str) -> str:
    pairs = parse_qsl(piece, keep_blank_values=True)
    return pairs[0][0] if pairs else piece


def _query(text: str, scheme: str, url: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise ConfigurationError(
            f"Cannot read the query string of the {scheme} URL {redact_url(url)!r}: {exc}; "
            "write it as ?name=value&other=value."
        ) from exc
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in query:
            raise ConfigurationError(
                f"The {scheme} URL {redact_url(url)!r} gives {name} twice ({query[name]!r} and {value!r}); "
                "give it once."
            )
        query[name] = value
    return query


def parse_target(target: str, /, **options: Any) -> StoreTarget:
    """Parse a store URL (``scheme://location?name=value``) and keyword options into a :class:`StoreTarget`.

    The query's options and the keyword ``options`` are merged: an option given both ways must
    have the same value (the same text, or a keyword number, truth value or ``None`` the text
    spells: ``?timeout=10`` agrees with ``timeout=10``); different values raise
    :class:`ConfigurationError` naming both and where each came from. A query that cannot be read,
    or that names an option twice, is refused too.
    """
    if not isinstance(target, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"Expected a store URL, got {type(target).__name__} {target!r}.")
    url = target.strip()
    if not url:
        raise ConfigurationError("The history store target is empty; give a URL such as 'sqlite:///history.db'.")
    match = _URL_SCHEME_RE.match(url)
    if match is None:
        raise ConfigurationError(
            f"Cannot read the history store URL {redact_url(target)!r}: expected 'scheme://…' with a scheme of "
            "letters, digits, '+', '-' or '.', such as 'sqlite:///history.db' or 'memory://'."
        )
    scheme = normalise_scheme(match.group(1))
    rest = url[match.end() :]
    rest, _, fragment = rest.partition("#")
    location, _, query_text = rest.partition("?")
    query = _query(query_text, scheme, url)
    merged: dict[str, Any] = dict(query)
    from_url = set(query)
    for name, value in options.items():
        if name in query:
            if not _agrees(query[name], value):
                raise ConfigurationError(
                    f"The option {name} is {query[name]!r} in the URL {redact_url(url)!r} but {value!r} as a keyword "
                    "option; give it once, or the same value both ways."
                )
            from_url.discard(name)
        merged[name] = value
    return StoreTarget(scheme, location, merged, url=url, fragment=fragment, from_url=frozenset(from_url))


def local_path(target: StoreTarget, *, default: str | None, forms: str) -> str:
    """The directory or file a ``scheme:///path`` URL names, relative paths kept relative.

    - ``scheme://`` → ``default`` (refused when ``default`` is ``None``); ``scheme:///`` → ``/``
    - ``scheme:///abs/dir`` → ``/abs/dir`` (``scheme:///C:/dir`` → ``C:/dir``)
    - ``scheme://./dir``, ``scheme://../dir``, ``scheme:///./dir``, ``scheme:///../dir`` → ``./dir`` /
      ``../dir``; ``scheme://.`` and ``scheme:///.`` → the current directory
    - any other host (``scheme://data/x``) is refused: it could mean ``./data/x`` or ``/x``.

    The path is percent-decoded (``%20`` for a space). ``forms`` ends every message (how to write the URL).
    """
    host, path = target.host, target.path
    if host in (".", ".."):
        return host + path if path else host
    if host:
        raise ConfigurationError(
            f"The {target.scheme} URL {target.redacted!r} names {host!r} where a host would go, which is ambiguous "
            f"(it could mean ./{host}{path} or {path or '/'}). {forms}"
        )
    if not path:
        if default is None:
            raise ConfigurationError(f"The {target.scheme} URL {target.redacted!r} names no directory. {forms}")
        return default
    if path in ("/.", "/..") or path.startswith(("/./", "/../")):
        return path[1:]
    if _DRIVE_RE.match(path):
        return path[1:]
    return path
