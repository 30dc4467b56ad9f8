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


def test_a_key_of_the_maximum_length_is_accepted() -> None:
    assert SessionKey("x" * 1024, user="u" * 1024, chat="c" * 1024).session_id == "x" * 1024


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session_id": 5}, "SessionKey.session_id must be a string, got int 5."),
        ({"session_id": "s", "user": 5}, "SessionKey.user must be a string or None, got int 5."),
        ({"session_id": ""}, "SessionKey.session_id must not be empty."),
        ({"session_id": "s", "chat": ""}, "SessionKey.chat must not be empty (use None for the anonymous partition)."),
        ({"session_id": "x" * 1025}, "SessionKey.session_id is 1025 characters long; the limit is 1024."),
        (
            {"session_id": "ab\ud800"},
            "SessionKey.session_id holds a lone surrogate '\\ud800' at character 2 ('ab\\ud800'); "
            "UTF-8 cannot store it. Use valid Unicode text.",
        ),
    ],
)
def test_bad_key_messages_say_what_was_wrong_and_what_to_do(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SessionKey(**kwargs)
    assert str(caught.value) == message


def test_a_long_surrogate_key_quotes_only_its_start() -> None:
    with pytest.raises(ValueError) as caught:
        SessionKey("\ud800" + "y" * 100)
    assert f"('\\ud800{'y' * 59}')" in str(caught.value)
