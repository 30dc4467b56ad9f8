from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_framework_history import ALL, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore, is_literal_safe
from agent_framework_history_jsonl._paths import PARTITION, SESSION, decode_segment, encode_segment, locate

TRICKY = [
    ".",
    "..",
    "../..",
    "../../etc/passwd",
    "/",
    "/abs",
    "a/b",
    "a\\b",
    "~none",
    "~iso-mfrgg",
    "~sid-mfrgg",
    "~key",
    "con",
    "CON",
    "nul.txt",
    "com1",
    "lpt9.log",
    "Alice",
    "alice",
    "trailing.",
    "trailing ",
    " ",
    ".hidden",
    "é",
    "e\u0301",
    "\u212b",
    "x" * 1024,
    "é" * 1024,
    "🧪" * 1024,
    "..\x01",
]

# Any text SessionKey accepts: 1 to 1024 characters of valid Unicode (UTF-8 encodable), no NUL.
key_text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=300, max_size=1024),
    st.text("abcABC./~-_ ", min_size=1, max_size=12),
)
optional_text = st.one_of(st.none(), key_text)
keys = st.builds(SessionKey, key_text, optional_text, optional_text)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("alice", True),
        ("s-1_x.v2", True),
        ("a" * 100, True),
        ("a" * 101, False),
        ("Alice", False),
        (".", False),
        ("..", False),
        (".hidden", False),
        ("~none", False),
        ("end.", False),
        ("con", False),
        ("con.txt", False),
        ("console", True),
        ("a b", False),
        ("é", False),
    ],
)
def test_literal_safe_names(value: str, safe: bool) -> None:
    assert is_literal_safe(value) is safe


def test_layout_uses_readable_names_and_encodes_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "h"
    assert locate(root, SessionKey("s1", user="alice")).path == root / "alice" / "~none" / "s1.jsonl"
    assert locate(root, SessionKey("s1")).path == root / "~none" / "~none" / "s1.jsonl"
    odd = locate(root, SessionKey("../x", user="~none", chat="Chat 1")).path
    assert odd.parent.parent.name.startswith("~iso-") and odd.parent.parent.name != "~none"
    assert odd.parent.name.startswith("~iso-")
    assert odd.name.startswith("~sid-") and odd.name.endswith(".jsonl")
    long_key = locate(root, SessionKey("s" * 1024, user="🧪" * 1024)).path
    assert long_key.parent.parent.name.startswith("~isoh-")
    assert long_key.name.startswith("~sidh-")


@settings(max_examples=400, deadline=None)
@given(value=key_text)
def test_segments_are_single_safe_names_and_decode_back(value: str) -> None:
    for kind in (PARTITION, SESSION):
        segment = encode_segment(value, kind)
        name = segment.name
        assert name not in ("", ".", "..")
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert len(name.encode()) <= 200
        assert name == name.lower()  # one case: safe on case-insensitive filesystems
        assert decode_segment(name, kind, segment.sidecar_value) == value


@settings(max_examples=300, deadline=None)
@given(a=keys, b=keys)
def test_distinct_keys_never_share_a_file_even_ignoring_case(a: SessionKey, b: SessionKey) -> None:
    root = Path("/srv/history")
    path_a, path_b = locate(root, a).path, locate(root, b).path
    for path in (path_a, path_b):
        relative = path.relative_to(root)
        assert len(relative.parts) == 3
        assert os.path.commonpath([os.path.realpath(root), os.path.realpath(path)]) == os.path.realpath(root)
    if a != b:
        assert str(path_a).lower() != str(path_b).lower()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(keys, min_size=1, max_size=4, unique=True))
def test_any_keys_stay_inside_the_root_and_round_trip_through_list_sessions(batch: list[SessionKey]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        outside_before = set(os.listdir(tmp))
        asyncio.run(_write_and_list(root, batch))
        assert set(os.listdir(tmp)) == outside_before | {"root"}  # nothing written beside the root
        real_root = os.path.realpath(root)
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                real = os.path.realpath(os.path.join(dirpath, name))
                assert os.path.commonpath([real_root, real]) == real_root


async def _write_and_list(root: Path, batch: list[SessionKey]) -> None:
    async with JsonlHistoryStore(root) as store:
        for n, key in enumerate(batch):
            assert (await store.append(key, [make_item(n)])).stored == 1
        listed = {key async for key in store.list_sessions(user=ALL, chat=ALL)}
        assert listed == set(batch)
        for n, key in enumerate(batch):
            assert {k async for k in store.list_sessions(user=key.user, chat=key.chat)} == {
                k for k in batch if k.partition == key.partition
            }
            assert [i["id"] for i in await store.load(key)] == [f"msg_{n}"]
    async with JsonlHistoryStore(root) as reopened:  # a fresh process sees the same keys
        assert {key async for key in reopened.list_sessions(user=ALL, chat=ALL)} == set(batch)


@pytest.mark.asyncio
async def test_symlink_leading_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "mallory").symlink_to(outside, target_is_directory=True)
    store = JsonlHistoryStore(root)
    with pytest.raises(ValueError, match="outside the store root"):
        await store.append(SessionKey("s", user="mallory"), [make_item(1)])
    assert list(outside.iterdir()) == []


@pytest.mark.asyncio
async def test_foreign_files_and_directories_are_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    async with JsonlHistoryStore(root) as store:
        await store.append(SessionKey("s", user="u"), [make_item(1)])
        (root / "u" / "~none" / "notes.txt").write_text("x")
        (root / "u" / "~none" / "~sid-!!.jsonl").write_text("{}\n")
        (root / "u" / "~none" / "empty.jsonl").write_text("")
        (root / "Upper").mkdir()
        (root / "~iso-zz").mkdir()
        assert {k async for k in store.list_sessions(user=ALL, chat=ALL)} == {SessionKey("s", user="u")}
