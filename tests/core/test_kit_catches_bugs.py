"""The conformance kit must fail on broken stores, not only pass on good ones."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

pytest_plugins = ["pytester"]

BROKEN_STORES = textwrap.dedent(
    """
    from collections.abc import AsyncIterator
    from datetime import UTC, datetime
    from typing import ClassVar

    import pytest_asyncio

    from agent_framework_history import AppendResult, Capability, SessionActivity, SessionKey
    from agent_framework_history.backend import HistoryStoreBase, clone_item
    from agent_framework_history.testing import HistoryStoreConformance


    class DictStore(HistoryStoreBase):
        CAPABILITIES: ClassVar = frozenset({Capability.LIST_SESSIONS, Capability.DELETE, Capability.ACTIVITY})
        FLAW = ""

        def __init__(self):
            super().__init__()
            self.data = {}
            self.times = {}

        def _key(self, key):
            return SessionKey(key.session_id) if self.FLAW == "no-partitions" else key

        async def _do_append(self, key, items, head):
            stored = self.data.setdefault(self._key(key), [])
            known = set() if self.FLAW == "no-idempotency" else {i["id"] for i in stored}
            fresh = [i for i in items if i["id"] not in known]
            stored.extend(fresh)
            if self.FLAW != "first-append-time" or self._key(key) not in self.times:
                self.times[self._key(key)] = datetime.now(UTC)
            return AppendResult(len(fresh))

        async def _do_load(self, key, limit, head):
            items = self.data.get(self._key(key), [])
            if self.FLAW == "limit-from-start":
                chosen = items if limit is None else items[:limit]
            else:
                chosen = items if limit is None else items[-limit:]
            return [clone_item(i) for i in chosen]

        async def _do_delete(self, key):
            return self.data.pop(self._key(key), None) is not None

        async def _do_list_sessions(self, user, chat):
            for key in list(self.data):
                if key.matches(user, chat):
                    yield key

        async def _do_list_activity(self, user, chat):
            for key in list(self.data):
                if key.matches(user, chat):
                    yield SessionActivity(key, self.times[key])

        async def _do_delete_idle(self, key, before):
            if self.FLAW != "prune-ignores-time" and self.times.get(self._key(key), before) >= before:
                return False
            self.times.pop(self._key(key), None)
            return self.data.pop(self._key(key), None) is not None


    class Kit(HistoryStoreConformance):
        FLAW = ""

        @pytest_asyncio.fixture
        async def store(self):
            store = DictStore()
            store.FLAW = self.FLAW
            yield store
            await store.aclose()


    class TestSound(Kit):
        FLAW = ""


    class TestNoIdempotency(Kit):
        FLAW = "no-idempotency"


    class TestNoPartitions(Kit):
        FLAW = "no-partitions"


    class TestLimitFromStart(Kit):
        FLAW = "limit-from-start"


    class TestFirstAppendTime(Kit):
        FLAW = "first-append-time"


    class TestPruneIgnoresTime(Kit):
        FLAW = "prune-ignores-time"
    """
)


def test_kit_passes_a_sound_store_and_fails_broken_ones(kit_failures: Callable[..., dict[str, set[str]]]) -> None:
    failed = kit_failures(BROKEN_STORES)

    assert "TestSound" not in failed
    assert {
        "test_reappending_same_items_stores_nothing_twice",
        "test_replayed_transcript_stores_only_new_items",
    } <= failed["TestNoIdempotency"]
    assert {
        "test_users_do_not_see_each_other",
        "test_chats_do_not_see_each_other",
        "test_anonymous_partition_is_its_own",
    } <= failed["TestNoPartitions"]
    assert "test_load_limit_returns_latest_in_order" in failed["TestLimitFromStart"]
    assert "test_list_activity_gives_each_session_the_time_of_its_latest_append" in failed["TestFirstAppendTime"]
    assert failed["TestPruneIgnoresTime"] == {"test_a_session_appended_to_after_listing_is_not_pruned"}
