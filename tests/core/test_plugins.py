from __future__ import annotations

import logging
from typing import Any

import pytest

from agent_framework_history import BackendConflictError, UnknownBackendError, available_backends, open_store
from agent_framework_history._plugins import DISABLE_ENV, BackendRegistry
from agent_framework_history.backend import BackendSpec, hookimpl

from .conftest import list_store, opened, plugin_for


def test_backend_spec_normalises_names_and_schemes() -> None:
    spec = BackendSpec(" My_Store ", list_store, schemes=("MYS://", "other"))
    assert spec.name == "my-store"
    assert spec.schemes == ("mys", "other")


def test_backend_spec_defaults_scheme_to_name() -> None:
    assert BackendSpec("toy", list_store).schemes == ("toy",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "factory": list_store}, "name"),
        ({"name": "9lives", "factory": list_store}, "name"),
        ({"name": "ok", "factory": "not callable"}, "callable"),
        ({"name": "ok", "factory": list_store, "schemes": ("bad scheme",)}, "scheme"),
        ({"name": 3, "factory": list_store}, "name"),
    ],
)
def test_backend_spec_rejects_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BackendSpec(**kwargs)


def test_registered_plugin_is_listed_and_opened_by_scheme_and_name(registry: BackendRegistry) -> None:
    registry.register(plugin_for("toy", "toy", description="Toy store"), distribution="toy-dist", version="1.2")
    [info] = available_backends()
    assert (info.name, info.distribution, info.version, info.schemes, info.description, info.error) == (
        "toy",
        "toy-dist",
        "1.2",
        ("toy",),
        "Toy store",
        None,
    )
    assert opened(open_store("toy://somewhere", flag=1)).target == "toy://somewhere"
    assert opened(open_store("toy://somewhere", flag=1)).options == {"flag": 1}
    assert opened(open_store("toy")).target == "toy://"


def test_plugin_may_yield_specs(registry: BackendRegistry) -> None:
    class Yielding:
        @hookimpl
        def history_store_backends(self) -> Any:
            yield BackendSpec("one", list_store)
            yield BackendSpec("two", list_store)

    registry.register(Yielding())
    assert registry.names() == ["one", "two"]


def test_hook_with_a_typo_is_caught_at_registration(registry: BackendRegistry) -> None:
    class Typo:
        @hookimpl
        def history_store_backend(self) -> list[BackendSpec]:
            return []

    with pytest.raises(Exception, match="history_store_backend"):
        registry.register(Typo())


def test_unknown_scheme_lists_installed_and_what_to_install(registry: BackendRegistry) -> None:
    registry.register(plugin_for("toy", "toy"))
    with pytest.raises(UnknownBackendError) as caught:
        open_store("sqlite:///x.db")
    message = str(caught.value)
    assert "'sqlite'" in message
    assert "toy (toy://)" in message
    assert "pip install agent-framework-history-sqlite" in message


def test_unknown_name_of_third_party_says_plugin_may_be_missing(registry: BackendRegistry) -> None:
    with pytest.raises(UnknownBackendError, match="No history backend is installed.*plugin may not be installed"):
        open_store("redisish")


def test_two_distributions_claiming_one_name_is_an_error_naming_both(registry: BackendRegistry) -> None:
    registry.register(plugin_for("toy", "toy"), distribution="dist-a")
    registry.register(plugin_for("toy", "toy2"), distribution="dist-b")
    registry.register(plugin_for("fine", "fine"), distribution="dist-c")
    with pytest.raises(BackendConflictError, match=r"dist-a.*dist-b"):
        open_store("toy")
    infos = {i.name: i for i in available_backends()}
    assert infos["toy"].error is not None and "dist-b" in infos["toy"].error
    assert opened(open_store("fine://")).target == "fine://"


def test_two_backends_claiming_one_scheme_is_an_error_naming_both(registry: BackendRegistry) -> None:
    registry.register(plugin_for("one", "shared"), distribution="dist-a")
    registry.register(plugin_for("two", "shared"), distribution="dist-b")
    with pytest.raises(BackendConflictError, match=r"'shared'.*dist-a.*dist-b"):
        open_store("shared://")


def test_hook_that_raises_is_listed_with_its_error_and_others_work(
    registry: BackendRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            raise RuntimeError("driver missing")

    registry.register(Broken(), distribution="broken-dist")
    registry.register(plugin_for("toy", "toy"))
    with caplog.at_level(logging.WARNING, logger="agent_framework_history"):
        infos = available_backends()
    failed = [i for i in infos if i.error]
    assert len(failed) == 1
    assert failed[0].distribution == "broken-dist"
    assert failed[0].error == "RuntimeError: driver missing"
    assert "driver missing" in caplog.text
    assert opened(open_store("toy://")).target == "toy://"


def test_disable_env_blocks_a_backend_by_name(registry: BackendRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, "toy, other")
    registry.register(plugin_for("toy", "toy"))
    registry.register(plugin_for("kept", "kept"))
    assert registry.names() == ["kept"]
    with pytest.raises(UnknownBackendError):
        open_store("toy://")


def test_a_broken_hook_is_reported_once_however_often_the_backends_are_looked_up(
    registry: BackendRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            raise RuntimeError("driver missing")

    registry.register(Broken(), distribution="broken-dist")
    with caplog.at_level(logging.WARNING, logger="agent_framework_history"):
        assert len([i for i in available_backends() if i.error]) == 1
        registry.register(plugin_for("toy", "toy"))  # the backends are looked up again
        assert opened(open_store("toy://")).target == "toy://"
        failed = [i for i in available_backends() if i.error]
    assert [(i.distribution, i.error) for i in failed] == [("broken-dist", "RuntimeError: driver missing")]
    warnings = [r.getMessage() for r in caplog.records if "driver missing" in r.getMessage()]
    assert warnings == ["History backend plugin broken-dist failed: RuntimeError: driver missing"]


def test_the_hook_is_called_through_the_plugin_manager_so_monitoring_and_tracing_see_it(
    registry: BackendRegistry,
) -> None:
    class Broken:
        @hookimpl
        def history_store_backends(self) -> list[BackendSpec]:
            raise RuntimeError("driver missing")

    good = plugin_for("good", "good")
    registry.register(Broken(), distribution="broken-dist")
    registry.register(good, distribution="good-dist")
    pm = registry._pm
    seen: list[tuple[str, list[object]]] = []
    finished: list[tuple[str, BaseException | None]] = []

    def before(name: str, impls: Any, kwargs: Any) -> None:
        seen.append((name, [impl.plugin for impl in impls]))

    def after(outcome: Any, name: str, impls: Any, kwargs: Any) -> None:
        finished.append((name, outcome.exception))

    undo = pm.add_hookcall_monitoring(before, after)
    traced: list[str] = []
    pm.trace.root.setwriter(traced.append)
    untrace = pm.enable_tracing()
    try:
        assert registry.names() == ["good"]  # the broken plugin does not hide the good one
    finally:
        undo()
        untrace()
        pm.trace.root.setwriter(None)
    # One call per plugin, each running that plugin alone, each through pluggy's hook execution.
    assert sorted(len(plugins) for _, plugins in seen) == [1, 1]
    assert {name for name, _ in seen} == {"history_store_backends"}
    assert any(plugins == [good] for _, plugins in seen)
    outcomes = sorted((type(exc).__name__ if exc else "ok") for _, exc in finished)
    assert outcomes == ["RuntimeError", "ok"]
    assert any("history_store_backends" in line for line in traced)
    [failed] = [i for i in registry.available() if i.error]
    assert failed.error == "RuntimeError: driver missing"
