from __future__ import annotations

from typing import Any

import pytest

from agent_framework_history import ALL, SessionKey


def test_session_key_is_frozen_and_hashable() -> None:
    key = SessionKey("s1", user="alice", chat="c1")
    with pytest.raises(AttributeError):
        key.user = "bob"  # type: ignore[misc]
    assert {key, SessionKey("s1", "alice", "c1")} == {key}
    assert key.partition == ("alice", "c1")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"session_id": ""}, "session_id"),
        ({"session_id": 3}, "session_id"),
        ({"session_id": None}, "session_id"),
        ({"session_id": "s", "user": ""}, "user"),
        ({"session_id": "s", "user": 5}, "user"),
        ({"session_id": "s", "chat": b"c"}, "chat"),
        ({"session_id": "s", "chat": "a\x00b"}, "chat"),
        ({"session_id": "x" * 1025}, "session_id"),
    ],
)
def test_bad_session_key_values_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"SessionKey.{field}"):
        SessionKey(**kwargs)


def test_none_is_a_partition_not_a_wildcard() -> None:
    anonymous = SessionKey("s")
    assert anonymous.matches(None, None)
    assert not SessionKey("s", user="alice").matches(None, None)
    assert SessionKey("s", user="alice").matches(ALL, None)
    assert SessionKey("s", user="alice", chat="c").matches("alice", ALL)
    assert not SessionKey("s", user="alice", chat="c").matches("alice", None)
