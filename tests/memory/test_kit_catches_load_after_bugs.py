"""The conformance kit's load_after tests fail on stores that would let a cache serve stale or foreign data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

pytest_plugins = ["pytester"]

FLAWED = textwrap.dedent(
    """
    import pytest_asyncio

    from agent_framework_history import ChainTail
    from agent_framework_history.testing import HistoryStoreConformance
    from agent_framework_history_memory import MemoryHistoryStore


    class Flawed(MemoryHistoryStore):
        FLAW = ""

        async def _do_load_after(self, key, after, head):
            tail = await super()._do_load_after(key, after, head)
            if self.FLAW == "always-continues" and after is not None:
                return ChainTail(items=tail.items, head=tail.head, continues=True)
            if self.FLAW == "ignores-head":
                return await super()._do_load_after(key, after, None)
            if self.FLAW == "includes-after" and tail.continues and after is not None:
                whole = await self._do_load(key, None, head)
                return ChainTail(items=whole[len(whole) - len(tail.items) - 2 :], head=tail.head, continues=True)
            return tail


    class Kit(HistoryStoreConformance):
        FLAW = ""

        @pytest_asyncio.fixture
        async def store(self):
            store = Flawed()
            store.FLAW = self.FLAW
            yield store
            await store.aclose()


    class TestSound(Kit):
        FLAW = ""


    class TestAlwaysContinues(Kit):
        FLAW = "always-continues"


    class TestIgnoresHead(Kit):
        FLAW = "ignores-head"


    class TestIncludesAfter(Kit):
        FLAW = "includes-after"
    """
)


def test_kit_fails_load_after_flaws(kit_failures: Callable[..., dict[str, set[str]]]) -> None:
    failed = kit_failures(FLAWED, "-k", "load_after")

    assert "TestSound" not in failed
    assert {
        "test_load_after_a_turn_of_another_branch_is_not_continued",
        "test_load_after_a_head_of_another_session_or_partition_is_not_continued",
        "test_load_after_in_a_deleted_session_is_not_continued",
    } <= failed["TestAlwaysContinues"]
    assert "test_load_after_gives_what_follows_the_head" in failed["TestIgnoresHead"]
    assert "test_load_after_gives_what_follows_the_head" in failed["TestIncludesAfter"]
