"""The one parser of store targets, its merge rule, and the factory contract built on it."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from agent_framework_history import ConfigurationError, HistoryStore, open_store
from agent_framework_history._plugins import BackendRegistry
from agent_framework_history._target import local_path, normalise_name, normalise_scheme, redact_url, scheme_of
from agent_framework_history.backend import BackendSpec, StoreTarget, hookimpl, parse_target

from .conftest import ListStore


def test_a_url_is_split_into_scheme_location_and_options() -> None:
    target = parse_target("  SQLite:///./data/h.db?busy_timeout=2&mode=ro#frag  ")
    assert target.scheme == "sqlite"
    assert target.location == "/./data/h.db"
    assert dict(target.options) == {"busy_timeout": "2", "mode": "ro"}
    assert target.from_url == {"busy_timeout", "mode"}
    assert target.fragment == "frag"
    assert target.url == "SQLite:///./data/h.db?busy_timeout=2&mode=ro#frag"
    assert (target.host, target.path) == ("", "/./data/h.db")
    assert parse_target("jsonl://./dir%20x").host == "."
    assert parse_target("jsonl://./dir%20x").path == "/dir x"


def test_keyword_options_are_merged_with_the_query() -> None:
    credential = object()
    target = parse_target("x://h/p?a=1", b=2, credential=credential)
    assert dict(target.options) == {"a": "1", "b": 2, "credential": credential}
    assert target.query == {"a": "1"}
    assert target.keywords == {"b": 2, "credential": credential}
    assert target.where("a") == "in the URL 'x://h/p?a=1'"
    assert target.where("b") == "as a keyword option"
    with pytest.raises(TypeError):
        target.options["c"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "keyword"),
    [
        ("fsync", "fsync"),
        ("10", 10),
        ("2.5", 2.5),
        ("10", 10.0),
        ("true", True),
        ("On", True),
        ("0", False),
        ("none", None),
        ("", None),
    ],
)
def test_the_same_value_given_both_ways_is_taken_once_with_the_keywords_type(query: str, keyword: object) -> None:
    target = parse_target(f"x://?opt={query}", opt=keyword)
    assert target.options["opt"] is keyword or target.options["opt"] == keyword
    assert type(target.options["opt"]) is type(keyword)
    assert target.from_url == frozenset()


@pytest.mark.parametrize(
    ("query", "keyword"),
    [("fsync", "flush"), ("10", 11), ("true", False), ("yes", 1.5), ("RO", "ro"), ("nan", float("nan")), ("x", [])],
)
def test_different_values_given_both_ways_are_refused_naming_both_and_where(query: str, keyword: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_target(f"x://h/p?opt={query}", opt=keyword)
    message = str(caught.value)
    assert f"opt is {query!r} in the URL 'x://h/p?opt={query}' but {keyword!r} as a keyword option" in message
    assert "give it once" in message


def test_messages_never_show_a_password() -> None:
    for attempt in (
        lambda: parse_target("postgresql://app:s3cret@db/x?schema=a", schema="b"),
        lambda: parse_target("postgresql://app:s3cret@db/x?schema=a&schema=b"),
        lambda: parse_target("postgresql://app:s3cret@db/x?schema"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            attempt()
        assert "s3cret" not in str(caught.value) and "app:***@db" in str(caught.value)
    assert redact_url("postgresql://app@db/x") == "postgresql://app@db/x"
    assert parse_target("postgresql://app:s3cret@db/x").redacted == "postgresql://app:***@db/x"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("x://?a=1&a=2", r"gives a twice \('1' and '2'\); give it once"),
        ("x://?a", "Cannot read the query string of the x URL 'x://\\?a'"),
        ("x://?a=1&&b=2", "Cannot read the query string"),
        ("", "empty"),
        ("   ", "empty"),
        ("no-scheme", "expected 'scheme://"),
        ("1x://y", "expected 'scheme://"),
    ],
)
def test_unreadable_targets_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_target(url)


def test_url_without_drops_only_the_named_parameters_and_keeps_the_rest_as_written() -> None:
    target = parse_target("postgres:///db?host=%2Fvar%2Frun&schema=x&sslmode=&pool_max_size=2")
    assert target.url_without({"schema", "pool_max_size"}) == "postgres:///db?host=%2Fvar%2Frun&sslmode="
    assert target.url_without({"host", "schema", "sslmode", "pool_max_size"}) == "postgres:///db"
    assert parse_target("postgresql://h/db").url_without({"schema"}) == "postgresql://h/db"


def test_unknown_options_get_one_message_naming_each_with_where_it_came_from() -> None:
    target = parse_target("mine:///x?colour=red&size=2", speed=3, size=2)
    target.refuse_unknown(["colour", "size", "speed"], "mine")  # all known: nothing raised
    with pytest.raises(ConfigurationError) as caught:
        target.refuse_unknown(["size"], "mine", hint="See the docs.")
    assert str(caught.value) == (
        "The mine backend has no option 'colour' (in the URL 'mine:///x?colour=red&size=2'), 'speed' (as a keyword"
        " option); its options are size. See the docs."
    )
    with pytest.raises(ConfigurationError, match=r"no option 'speed' \(as a keyword option\); its options are size\.$"):
        target.refuse_unknown(["size"], "mine", among=target.keywords)  # the query's other names not checked
    with pytest.raises(ConfigurationError, match=r"no option 'colour' .* it takes no options\.$"):
        parse_target("mine:///x?colour=red").refuse_unknown((), "mine")


def test_names_and_schemes_follow_one_rule_each() -> None:
    assert normalise_name("  My_Store ") == "my-store"
    assert normalise_scheme(" MYS:// ") == "mys"
    assert scheme_of("Foo+Bar.x-1://rest") == "foo+bar.x-1"
    assert scheme_of("plain-name") is None
    for bad in ("", "9lives", "has space", "x" * 65):
        with pytest.raises(ValueError, match="not a valid backend name"):
            normalise_name(bad)
    for bad in ("", "bad scheme", "under_score", "x" * 65):
        with pytest.raises(ValueError, match="not a valid URL scheme"):
            normalise_scheme(bad)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("d:///abs/dir", "/abs/dir"),
        ("d:///abs/with%20space", "/abs/with space"),
        ("d:///./rel", "./rel"),
        ("d:///../up", "../up"),
        ("d:///.", "."),
        ("d://./rel/dir", "./rel/dir"),
        ("d://..", ".."),
        ("d://", "DEFAULT"),
        ("d:///", "/"),
        ("d:///C:/data", "C:/data"),
    ],
)
def test_local_paths_read_the_documented_forms(url: str, path: str) -> None:
    assert local_path(parse_target(url), default="DEFAULT", forms="Write d:///dir.") == path


def test_local_paths_refuse_a_host_and_a_missing_directory_when_there_is_no_default() -> None:
    with pytest.raises(ConfigurationError, match=r"names 'data' where a host would go, which is ambiguous.*Write d"):
        local_path(parse_target("d://data/x"), default="DEFAULT", forms="Write d:///dir.")
    with pytest.raises(ConfigurationError, match="names no directory. Write d"):
        local_path(parse_target("d://"), default=None, forms="Write d:///dir.")


def _registry_with(spec: BackendSpec) -> BackendRegistry:
    class Plugin:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            return [spec]

    registry = BackendRegistry(load_entry_points=False)
    registry.register(Plugin())
    return registry


def test_a_factory_receives_the_parsed_target() -> None:
    seen: list[StoreTarget] = []

    def factory(target: StoreTarget, /) -> HistoryStore:
        seen.append(target)
        return ListStore(target.url)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current contract is not adapted
        registry = _registry_with(BackendSpec("toy", factory))
    open_store("toy://here?a=1", registry=registry, b=2)
    open_store("toy", registry=registry, c=3)
    assert [(t.scheme, t.location, dict(t.options), t.from_url) for t in seen] == [
        ("toy", "here", {"a": "1", "b": 2}, {"a"}),
        ("toy", "", {"c": 3}, frozenset()),
    ]
    with pytest.raises(ConfigurationError, match="a is '1' in the URL 'toy://here\\?a=1' but 2 as a keyword"):
        open_store("toy://here?a=1", registry=registry, a=2)
    assert len(seen) == 2  # refused before the factory was called


def test_callables_written_to_the_old_contract_are_adapted_with_a_deprecation_warning() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    probes: list[str] = []

    def factory(target, **options):  # type: ignore[no-untyped-def]
        calls.append((target, options))
        return ListStore(target, **options)

    def exists(target: str, /) -> bool:
        probes.append(target)
        return True

    with pytest.warns(DeprecationWarning, match=r"BackendSpec 'old'") as caught:
        spec = BackendSpec("old", factory, exists=exists)
    assert [str(w.message).split(", the contract")[0] for w in caught] == [
        f"BackendSpec 'old': factory {factory.__qualname__} takes (url, **options)",
        f"BackendSpec 'old': exists {exists.__qualname__} takes (url)",
    ]
    assert "make it take one StoreTarget" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the plugin's BackendSpec(...) line
    store = open_store("old://x?a=1", registry=_registry_with(spec), b=2)
    assert isinstance(store, ListStore)
    assert calls == [("old://x?a=1", {"b": 2})]  # the URL as given, and the keyword options: as before
    assert spec.exists is not None and spec.exists(parse_target("old://y?z=1")) is True
    assert probes == ["old://y?z=1"]
