"""When a missing server fails the run instead of skipping it (no server needed)."""

from __future__ import annotations

import pytest

from .conftest import server_required


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "True", "Yes", "YES"])
def test_ci_values_of_the_root_conftest_require_the_server(value: str) -> None:
    assert server_required({"CI": value}) is True


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "y", "ci", " true"])
def test_other_ci_values_let_the_tests_skip(value: str) -> None:
    assert server_required({"CI": value}) is False


def test_no_ci_variable_lets_the_tests_skip() -> None:
    assert server_required({}) is False


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "Yes")
    assert server_required() is True
    monkeypatch.delenv("CI")
    assert server_required() is False
