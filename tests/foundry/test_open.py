"""Opening the backend: URLs, options, the entry point, and the selector's hosted choice."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from azure.ai.agentserver.responses import FoundryStorageProvider, InMemoryResponseProvider

from agent_framework_history import ConfigurationError, SessionKey, available_backends, open_store, resolve_target
from agent_framework_history.testing import make_turn
from agent_framework_history_foundry import FoundryHistoryStore, open_foundry_store, resolve_endpoint
from agent_framework_history_foundry.testing import FakeFoundryStorage, StaticTokenCredential


def test_backend_is_discovered_through_its_entry_point() -> None:
    [info] = [i for i in available_backends() if i.name == "foundry"]
    assert info.distribution == "agent-framework-history-foundry"
    assert info.schemes == ("foundry",)
    assert info.error is None


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("foundry://acct.services.ai.azure.com/api/projects/p", "https://acct.services.ai.azure.com/api/projects/p"),
        ("foundry://acct.services.ai.azure.com/api/projects/p/", "https://acct.services.ai.azure.com/api/projects/p"),
        ("foundry://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_url_with_a_host_names_the_https_endpoint(url: str, endpoint: str) -> None:
    assert resolve_endpoint(url) == endpoint


def test_bare_url_takes_the_endpoint_from_agent_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", "https://example.services.ai.azure.com/api/projects/x")
    assert resolve_endpoint("foundry://") == "https://example.services.ai.azure.com/api/projects/x"


def test_bare_url_without_an_endpoint_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="FOUNDRY_PROJECT_ENDPOINT"):
        open_foundry_store("foundry://", credential=StaticTokenCredential())


@pytest.mark.parametrize(
    "url", ["foundry://host/p#fragment", "foundry://user:pw@host/p", "foundry:///only/a/path", "memory://"]
)
def test_malformed_urls_are_rejected(url: str) -> None:
    with pytest.raises(ConfigurationError):
        resolve_endpoint(url)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bogus": 1}, "bogus"),
        ({"raise_on_write_error": "yes"}, "raise_on_write_error"),
        ({"cache_size": 0}, "cache_size"),
        ({"credential": "not-a-credential"}, "credential"),
        ({"response_provider": object()}, "ResponseProviderProtocol"),
        ({"response_provider": InMemoryResponseProvider(), "credential": StaticTokenCredential()}, "either"),
        ({"response_provider": InMemoryResponseProvider(), "timeout": 5}, "timeout"),
        ({"timeout": 0}, "timeout must be a number of seconds greater than 0"),
        ({"timeout": -1.5}, "-1.5"),
        ({"timeout": "soon"}, "'soon'"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"host_stores": "maybe"}, "host_stores must be True, False or 'auto', got 'maybe'"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        open_foundry_store("foundry://h.example/p", **options)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foundry://h.example/p?timeout=abc", "timeout must be a number of seconds"),
        ("foundry://h.example/p?timeout=0", "got '0'"),
        ("foundry://h.example/p?credential=x", "credential"),
        ("foundry://h.example/p?bogus=1", "bogus"),
        ("foundry://h.example/p?timeout=1&timeout=2", "twice"),
        ("foundry://h.example/p?host_stores=sometimes", "host_stores"),
    ],
)
def test_bad_url_query_options_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        open_foundry_store(url, credential=StaticTokenCredential())


@pytest.mark.asyncio
async def test_url_query_options_are_read_and_keywords_must_agree_with_them() -> None:
    url = "foundry://h.example/p?timeout=2.5&raise_on_write_error=true&cache_size=7&host_stores=true"
    async with open_foundry_store(url, credential=StaticTokenCredential()) as store:
        assert store.raise_on_write_error is True and store.host_stores is True
        assert store._chains.maxsize == 7  # pyright: ignore[reportPrivateUsage]
        assert store.provider._client.timeout == 2.5  # type: ignore[attr-defined]  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]
    async with open_foundry_store(url, credential=StaticTokenCredential(), timeout=2.5, host_stores=True) as store:
        assert store.host_stores is True
        assert store.provider._client.timeout == 2.5  # type: ignore[attr-defined]  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]
    with pytest.raises(ConfigurationError, match=r"host_stores is 'true' in the URL .* but False as a keyword"):
        open_foundry_store(url, credential=StaticTokenCredential(), host_stores=False)
    async with open_foundry_store("foundry://h.example/p", credential=StaticTokenCredential(), timeout=9) as store:
        assert store.provider._client.timeout == 9  # type: ignore[attr-defined]  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]
    async with open_foundry_store("foundry://h.example/p", credential=StaticTokenCredential()) as store:
        assert store.provider._client.timeout == 30  # type: ignore[attr-defined]  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]


@pytest.mark.asyncio
async def test_host_stores_auto_means_a_container_whose_endpoint_is_this_store(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = "https://acct.services.ai.azure.com/api/projects/p"
    async with open_foundry_store("foundry://acct.services.ai.azure.com/api/projects/p") as local:
        assert local.host_stores is False  # not hosted
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "production")
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", endpoint)
    async with open_foundry_store("foundry://", credential=StaticTokenCredential()) as hosted:
        assert hosted.host_stores is True
    other_project = "foundry://other.example/api/projects/q"
    async with open_foundry_store(other_project, credential=StaticTokenCredential()) as other:
        assert other.host_stores is False  # another project's storage: the host does not write there
    async with open_foundry_store("foundry://", response_provider=InMemoryResponseProvider()) as own:
        assert own.host_stores is False  # a provider of your own is not the host's storage
    async with open_foundry_store("foundry://", credential=StaticTokenCredential(), host_stores=False) as off:
        assert off.host_stores is False


@pytest.mark.asyncio
async def test_default_credential_is_azure_identity_and_closed_with_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity.aio import DefaultAzureCredential

    closed: list[str] = []
    original_close = DefaultAzureCredential.close
    provider_close = FoundryStorageProvider.aclose

    async def record_credential(self: DefaultAzureCredential) -> None:
        closed.append("credential")
        await original_close(self)

    async def record_provider(self: FoundryStorageProvider) -> None:
        closed.append("provider")
        await provider_close(self)

    monkeypatch.setattr(DefaultAzureCredential, "close", record_credential)
    monkeypatch.setattr(FoundryStorageProvider, "aclose", record_provider)
    store = open_foundry_store("foundry://h.example/api/projects/p")
    assert isinstance(store.provider, FoundryStorageProvider)
    [credential] = [o for o in store._owned if isinstance(o, DefaultAzureCredential)]  # pyright: ignore[reportPrivateUsage]
    assert credential is not None
    assert closed == []
    await store.aclose()
    assert closed == ["provider", "credential"]  # the provider first, then the credential it used
    await store.aclose()
    assert closed == ["provider", "credential"]  # closing twice closes nothing twice


@pytest.mark.asyncio
async def test_hosted_selector_opens_foundry_even_with_a_local_store_configured(
    fake: FakeFoundryStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "af-history.toml").write_text('[store]\nlocal = "sqlite:///./local.db"\n')
    monkeypatch.setenv("AF_HISTORY_STORE", "jsonl:///./local-history")
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "production")
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", fake.endpoint)
    assert resolve_target().target == "foundry://"
    store = open_store(credential=StaticTokenCredential())
    try:
        assert isinstance(store, FoundryHistoryStore)
        result = await store.append(SessionKey("s", user="u"), make_turn(0))
        assert result.stored == 2
        assert fake.of("create")[0].path == "/api/projects/test-project/storage/responses"
    finally:
        await store.aclose()
    assert sorted(os.listdir(tmp_path)) == ["af-history.toml"]  # nothing written locally


@pytest.mark.asyncio
async def test_the_backend_never_writes_to_local_disk(
    fake: FakeFoundryStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_store(fake.host_url, credential=StaticTokenCredential()) as store:
        key = SessionKey("s", user="u")
        head = (await store.append(key, make_turn(0))).head
        await store.load(key, head=head)
    assert os.listdir(tmp_path) == []


@pytest.mark.asyncio
async def test_a_failing_close_still_closes_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity.aio import DefaultAzureCredential

    closed: list[str] = []
    original_close = DefaultAzureCredential.close

    async def record_credential(self: DefaultAzureCredential) -> None:
        closed.append("credential")
        await original_close(self)

    async def broken_provider(self: FoundryStorageProvider) -> None:
        raise OSError("socket already gone")

    monkeypatch.setattr(DefaultAzureCredential, "close", record_credential)
    monkeypatch.setattr(FoundryStorageProvider, "aclose", broken_provider)
    store = open_foundry_store("foundry://h.example/api/projects/p")
    with pytest.raises(OSError, match="socket already gone"):
        await store.aclose()
    assert closed == ["credential"]


def test_an_sdk_that_builds_its_provider_differently_is_a_clear_error() -> None:
    from azure.ai.agentserver.responses import FoundryStorageSettings

    from agent_framework_history_foundry._wire import harden

    settings = FoundryStorageSettings.from_endpoint("https://h.example/api/projects/p")
    provider = FoundryStorageProvider(StaticTokenCredential(), settings=settings)
    provider._client = object()  # type: ignore[assignment]  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(ConfigurationError, match="AsyncPipelineClient"):
        harden(provider, timeout=5, storage_url=settings.storage_base_url)
