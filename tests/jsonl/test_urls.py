from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_framework_history import ConfigurationError, available_backends, open_store
from agent_framework_history_jsonl import DEFAULT_ROOT, JsonlHistoryStore, root_from_url


def test_jsonl_backend_is_discovered_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "jsonl"]
    assert info.distribution == "agent-framework-history-jsonl"
    assert info.schemes == ("jsonl",)
    assert info.error is None


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("jsonl:///abs/dir", "/abs/dir"),
        ("jsonl:///abs/with%20space", "/abs/with space"),
        ("jsonl:///./.af-history", "./.af-history"),
        ("jsonl:///../up", "../up"),
        ("jsonl:///.", "."),
        ("jsonl://./rel/dir", "./rel/dir"),
        ("jsonl://../rel", "../rel"),
        ("jsonl://.", "."),
        ("jsonl://", DEFAULT_ROOT),
        ("JSONL:///abs", "/abs"),
        ("jsonl:///C:/data/history", "C:/data/history"),
    ],
)
def test_url_forms_name_the_documented_directory(url: str, root: str) -> None:
    assert root_from_url(url) == root


@pytest.mark.parametrize("url", ["jsonl://data/history", "jsonl://host/abs", "jsonl://~/x"])
def test_url_with_a_host_is_refused_as_ambiguous(url: str) -> None:
    with pytest.raises(ConfigurationError, match="ambiguous"):
        open_store(url)


def test_relative_root_is_resolved_against_the_current_directory_when_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("jsonl:///./.af-history")
    assert isinstance(store, JsonlHistoryStore)
    assert store.root == tmp_path / ".af-history"
    assert open_store("jsonl://./x").root == tmp_path / "x"  # type: ignore[attr-defined]
    assert open_store("jsonl").root == tmp_path / ".af-history"  # type: ignore[attr-defined]
    monkeypatch.chdir(os.sep)
    assert store.root == tmp_path / ".af-history"  # fixed at open time


def test_options_come_from_the_query_or_keywords(tmp_path: Path) -> None:
    store = open_store(f"jsonl://{tmp_path}?durability=fsync&on_corrupt=skip&max_open_files=4")
    assert isinstance(store, JsonlHistoryStore)
    assert (store.durability, store.on_corrupt, store.max_open_files) == ("fsync", "skip", 4)
    store = open_store(f"jsonl://{tmp_path}", durability="fsync", inline_write_limit=0)
    assert isinstance(store, JsonlHistoryStore)
    assert (store.durability, store.on_corrupt, store.inline_write_limit) == ("fsync", "raise", 0)
    agreed = open_store(f"jsonl://{tmp_path}?durability=fsync", durability="fsync")
    assert isinstance(agreed, JsonlHistoryStore) and agreed.durability == "fsync"


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("jsonl:///x?durability=sometimes", {}, "durability must be 'flush' or 'fsync'"),
        ("jsonl:///x", {"on_corrupt": "ignore"}, "on_corrupt must be 'raise' or 'skip'"),
        ("jsonl:///x?durability=fsync", {"durability": "flush"}, "give it once"),
        ("jsonl:///x?colour=red", {}, "no option 'colour'"),
        ("jsonl:///x", {"path": "/tmp"}, "no option 'path'"),
        ("jsonl:///x?max_open_files=0", {}, "max_open_files must be an int >= 1"),
        ("jsonl:///x?inline_write_limit=lots", {}, "whole number"),
        ("jsonl:///x?durability=fsync&durability=flush", {}, "twice"),
        ("jsonl:///x#frag", {}, "fragment"),
    ],
)
def test_bad_urls_and_options_are_refused_with_the_reason(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_store(url, **options)


def test_constructor_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        JsonlHistoryStore(tmp_path, durability="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="root must not be empty"):
        JsonlHistoryStore("")
