from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent_framework_history import ConfigurationError, open_store, resolve_target
from agent_framework_history._plugins import BackendRegistry
from agent_framework_history._selector import CONFIG_ENV, HOSTED_STORE_ENV, STORE_ENV

from .conftest import ListStore, opened, plugin_for

HOSTED_VARS = ("FOUNDRY_HOSTING_ENVIRONMENT", "FOUNDRY_PROJECT_ENDPOINT", "FOUNDRY_AGENT_SESSION_GUID", "PORT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (STORE_ENV, HOSTED_STORE_ENV, CONFIG_ENV, *HOSTED_VARS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def backends(registry: BackendRegistry) -> BackendRegistry:
    for name in ("sqlite", "jsonl", "foundry", "memory"):
        registry.register(plugin_for(name, name))
    return registry


def host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "production")
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", "https://example.services.ai.azure.com/api/projects/p")


def test_store_instance_is_returned_as_is() -> None:
    store = ListStore()
    assert open_store(store) is store


def test_default_is_sqlite_when_installed(backends: BackendRegistry) -> None:
    assert opened(open_store()).target == "sqlite:///./.af-history/history.db"


def test_default_falls_back_to_jsonl(registry: BackendRegistry) -> None:
    registry.register(plugin_for("jsonl", "jsonl"))
    assert opened(open_store()).target == "jsonl:///./.af-history"


def test_no_local_backend_says_what_to_install(registry: BackendRegistry) -> None:
    registry.register(plugin_for("foundry", "foundry"))
    with pytest.raises(ConfigurationError, match="pip install agent-framework-history-sqlite"):
        open_store()


def test_env_beats_config_file(backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "af-history.toml").write_text('[store]\nlocal = "jsonl:///from-config"\n')
    assert opened(open_store()).target == "jsonl:///from-config"
    monkeypatch.setenv(STORE_ENV, "memory://from-env")
    assert opened(open_store()).target == "memory://from-env"
    assert resolve_target().source == STORE_ENV


def test_explicit_argument_beats_everything(backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STORE_ENV, "memory://from-env")
    host(monkeypatch)
    assert opened(open_store("jsonl:///explicit")).target == "jsonl:///explicit"


def test_config_path_from_env(backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[store]\nlocal = "memory://cfg"\nhosted = "memory://hosted"\n')
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert opened(open_store()).target == "memory://cfg"


def test_missing_config_file_named_by_env_is_an_error(
    backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, "/no/such/file.toml")
    with pytest.raises(ConfigurationError, match=r"/no/such/file.toml"):
        open_store()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store\n", "Cannot read"),
        ('store = "x"\n', "must be a table"),
        ("[store]\nlocal = 3\n", "local must be a non-empty string"),
        ('[store]\nlcoal = "memory://"\n', "unknown keys"),
        ('[stores]\nlocal = "memory://"\n', r"unknown top-level key\(s\) \['stores'\] \(did you mean \[store\]\?\)"),
        ('local = "memory://"\n', r"key\(s\) \['local'\] \(put 'local' and 'hosted' under \[store\]\)"),
        ('hosted = "foundry://"\n[store]\nlocal = "memory://"\n', r"\['hosted'\] \(put 'local'"),
    ],
)
def test_bad_config_file_is_a_clear_error(backends: BackendRegistry, tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "af-history.toml").write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        open_store()


def test_hosted_picks_foundry_over_configured_local_and_logs_once(
    backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "af-history.toml").write_text('[store]\nlocal = "jsonl:///cfg"\n')
    monkeypatch.setenv(STORE_ENV, "sqlite:///env.db")
    host(monkeypatch)
    with caplog.at_level(logging.INFO, logger="agent_framework_history"):
        store = opened(open_store())
    assert store.target == "foundry://"
    ignored = [r for r in caplog.records if "ignoring the local history store" in r.getMessage()]
    assert len(ignored) == 1
    assert "sqlite:///env.db" in ignored[0].getMessage() and "jsonl:///cfg" in ignored[0].getMessage()


def test_hosted_store_can_be_configured(
    backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    host(monkeypatch)
    (tmp_path / "af-history.toml").write_text('[store]\nhosted = "memory://hosted-cfg"\n')
    assert opened(open_store()).target == "memory://hosted-cfg"
    monkeypatch.setenv(HOSTED_STORE_ENV, "memory://hosted-env")
    assert opened(open_store()).target == "memory://hosted-env"


def test_hosted_without_foundry_backend_never_falls_back_to_local(
    registry: BackendRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register(plugin_for("sqlite", "sqlite"))
    host(monkeypatch)
    with pytest.raises(ConfigurationError, match="agent-framework-history-foundry"):
        open_store()


def test_hosted_flag_counts_any_non_empty_value(backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "false")
    assert opened(open_store()).target == "foundry://"


def test_broken_agent_config_is_a_configuration_error(
    backends: BackendRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="AgentConfig"):
        open_store()


@pytest.mark.parametrize("target", ["://x", "sql ite://x", "c:\\path", "", "   ", "1abc"])
def test_bad_targets_are_clear_errors(backends: BackendRegistry, target: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(target)


def test_non_string_target_is_rejected(backends: BackendRegistry) -> None:
    with pytest.raises(ConfigurationError, match="int"):
        open_store(42)  # type: ignore[arg-type]
