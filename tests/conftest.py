"""Settings shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples on every run, so a red build always reproduces.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")


KitFailures = Callable[..., dict[str, set[str]]]


@pytest.fixture
def kit_failures(pytester: pytest.Pytester) -> KitFailures:
    """Run a test module (the kit against deliberately broken stores) and give each class's failed tests.

    ``kit_failures(source, *args)``: ``args`` go to pytest (e.g. ``"-k", "load_after"``); a test's
    parametrisation is dropped from its name. Needs ``pytest_plugins = ["pytester"]`` in the test module.
    """

    def run(source: str, *args: str) -> dict[str, set[str]]:
        pytester.makepyfile(test_kit_against_broken_stores=source)
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "-q", "-o", "asyncio_default_fixture_loop_scope=function", *args
        )
        failed: dict[str, set[str]] = {}
        for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
            if report.failed:
                cls, test = report.nodeid.split("::")[1:3]
                failed.setdefault(cls, set()).add(test.split("[")[0])
        return failed

    return run
