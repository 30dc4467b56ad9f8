"""One error hierarchy: validation errors are HistoryStoreErrors and ValueErrors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from agent_framework_history import (
    BackendConflictError,
    ConfigurationError,
    CorruptDataError,
    HistoryStoreError,
    InvalidArgumentError,
    SchemaVersionError,
    SessionConflictError,
    SessionKey,
    StoreClosedError,
    StoreUnavailableError,
    UnknownBackendError,
    UnsupportedOperationError,
)
from agent_framework_history.backend import check_before, check_head, check_items, check_key, check_limit
from agent_framework_history.cli import InterchangeError, read_records

from .conftest import ListStore


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SessionKey(""), "SessionKey.session_id must not be empty"),
        (lambda: SessionKey("s", user=5), "SessionKey.user must be a string or None, got int 5"),
        (lambda: check_key("s"), "Expected a SessionKey, got str 's'"),
        (lambda: check_limit(-1), "limit must be None or >= 0, got -1"),
        (lambda: check_limit(1.5), "limit must be None or a non-negative int, got float 1.5"),
        (lambda: check_head(""), "head must be None or a chain head string"),
        (lambda: check_before(datetime(2024, 1, 1)), "before must be timezone-aware"),
        (lambda: check_items([{"type": "message"}]), r"items\[0\] \(type 'message'\) needs a non-empty string 'id'"),
        (lambda: check_items([{"type": "m", "id": "a", "x": {1, 2}}]), r"items\[0\]\.x holds a set"),
        (lambda: check_items([{"type": "m", "id": "a", "x": 2**70}]), r"items\[0\]\.x"),
    ],
)
def test_validation_errors_are_invalid_argument_errors_and_value_errors(call: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        call()
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, HistoryStoreError)
    assert not isinstance(caught.value, ConfigurationError)


@pytest.mark.asyncio
async def test_a_store_refuses_bad_arguments_with_invalid_argument_error() -> None:
    async with ListStore() as store:
        with pytest.raises(InvalidArgumentError, match="limit must be None or >= 0"):
            await store.load(SessionKey("s"), limit=-1)
        with pytest.raises(InvalidArgumentError, match=r"items\[1\]"):
            await store.append(SessionKey("s"), [{"type": "m", "id": "a"}, {"type": "m", "id": "b", "v": object()}])
        with pytest.raises(ValueError, match="Expected a SessionKey"):  # what callers caught before still works
            await store.load("s")  # type: ignore[arg-type]
        assert await store.load(SessionKey("s")) == []  # nothing of the refused append was stored


def test_an_unreadable_export_is_an_interchange_error_inside_the_hierarchy() -> None:
    with pytest.raises(InterchangeError, match=r"export\.jsonl, line 1: the header is not JSON") as caught:
        list(read_records(["not json"], "export.jsonl"))
    assert isinstance(caught.value, HistoryStoreError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (ConfigurationError, (HistoryStoreError, ValueError)),
        (UnknownBackendError, (ConfigurationError,)),
        (BackendConflictError, (ConfigurationError,)),
        (SchemaVersionError, (ConfigurationError, HistoryStoreError)),  # postgres raised ConfigurationError for it
        (InvalidArgumentError, (HistoryStoreError, ValueError)),
        (InterchangeError, (HistoryStoreError, ValueError)),
        (CorruptDataError, (HistoryStoreError,)),
        (StoreUnavailableError, (HistoryStoreError,)),
        (StoreClosedError, (HistoryStoreError, RuntimeError)),
        (UnsupportedOperationError, (HistoryStoreError, NotImplementedError)),
        (SessionConflictError, (HistoryStoreError, RuntimeError)),
    ],
)
def test_every_error_is_a_history_store_error(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base), (error, base)


def test_transient_failures_are_not_configuration_or_argument_errors() -> None:
    assert not issubclass(StoreUnavailableError, ValueError)
    assert not issubclass(StoreUnavailableError, CorruptDataError)
