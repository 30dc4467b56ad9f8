"""An async credential handing out a fixed bearer token, for talking to a fake storage service."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken

__all__ = ["StaticTokenCredential"]


class StaticTokenCredential:
    """``get_token`` returns ``token`` valid for an hour; ``scopes`` records what was asked for."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()
