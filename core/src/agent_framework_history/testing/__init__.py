"""Test support for agent-framework-history (install with the ``testing`` extra).

- :class:`HistoryStoreConformance`: the behaviour tests every backend runs. Subclass it in a
  class named ``Test…`` and override the ``store`` fixture to return a fresh, empty store::

      import pytest_asyncio
      from agent_framework_history.testing import HistoryStoreConformance

      class TestMyStore(HistoryStoreConformance):
          @pytest_asyncio.fixture
          async def store(self, tmp_path):
              store = MyStore(tmp_path)
              yield store
              await store.aclose()

- :class:`ResponseStoreConformance` / :class:`SessionRecordsConformance`: the same for a backend's
  response store (differential: the SDK's ``InMemoryResponseProvider`` must give the same answers)
  and its agent-session records.

- :class:`RecallChatClient`: an offline chat client whose replies show what history it saw
  (needs no pytest).

- :class:`ScriptedChatClient`: an offline chat client that plays a script of replies — texts and
  :class:`ToolCall` s — so an agent runs its tools without a model (needs no pytest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._clients import RecallChatClient, ScriptedChatClient, ToolCall

if TYPE_CHECKING:
    from ._conformance import HistoryStoreConformance, SessionHandle, make_item, make_turn
    from ._response_kit import (
        ResponseStoreConformance,
        SessionRecordsConformance,
        host_turn,
        response_envelope,
        response_message,
    )

__all__ = [
    "HistoryStoreConformance",
    "RecallChatClient",
    "ResponseStoreConformance",
    "ScriptedChatClient",
    "SessionHandle",
    "SessionRecordsConformance",
    "ToolCall",
    "host_turn",
    "make_item",
    "make_turn",
    "response_envelope",
    "response_message",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(["HistoryStoreConformance", "SessionHandle", "make_item", "make_turn"], "._conformance"),
        **dict.fromkeys(
            [
                "ResponseStoreConformance",
                "SessionRecordsConformance",
                "host_turn",
                "response_envelope",
                "response_message",
            ],
            "._response_kit",
        ),
    },
    __all__,
)
