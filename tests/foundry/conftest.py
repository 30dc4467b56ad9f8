"""Trust a throwaway CA before anything imports aiohttp, and serve a fake Foundry storage API per test."""

from __future__ import annotations

from agent_framework_history_foundry.testing import install_test_ca

# aiohttp builds its verifying TLS context when first imported, from SSL_CERT_FILE: set it first.
TLS = install_test_ca()

from collections.abc import AsyncIterator  # noqa: E402

import pytest  # noqa: E402
import pytest_asyncio  # noqa: E402

from agent_framework_history_foundry import FoundryHistoryStore, open_foundry_store  # noqa: E402
from agent_framework_history_foundry.testing import FakeFoundryStorage, StaticTokenCredential  # noqa: E402

#: Storage API environment the tests must not inherit from the machine.
HOSTING_ENV = (
    "FOUNDRY_HOSTING_ENVIRONMENT",
    "FOUNDRY_PROJECT_ENDPOINT",
    "FOUNDRY_AGENT_NAME",
    "FOUNDRY_AGENT_VERSION",
    "FOUNDRY_AGENT_SESSION_ID",
    "FOUNDRY_AGENT_SESSION_GUID",
    "MODEL_DEPLOYMENT_NAME",
    "AZURE_AI_MODEL_DEPLOYMENT_NAME",
    "AF_HISTORY_STORE",
    "AF_HISTORY_HOSTED_STORE",
    "AF_HISTORY_CONFIG",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HOSTING_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeFoundryStorage]:
    async with FakeFoundryStorage(TLS) as server:
        yield server


@pytest.fixture
def credential() -> StaticTokenCredential:
    return StaticTokenCredential("token-123")


@pytest_asyncio.fixture
async def wire_store(fake: FakeFoundryStorage, credential: StaticTokenCredential) -> AsyncIterator[FoundryHistoryStore]:
    store = open_foundry_store(fake.host_url, credential=credential)
    yield store
    await store.aclose()
