"""Behaviour tests shared by every ``HistoryStore`` backend."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .._base import HistoryStoreBase
from .._errors import StoreClosedError, UnsupportedOperationError
from .._json import is_json_array
from .._keys import ALL, SessionKey
from .._storage_check import StorageChecking, StorageReport
from .._store import Capability, ChainTail, HistoryStore, Item, SessionActivity
from ._transcripts import WINDOW_TRANSCRIPTS, shortest_valid_window, window_problems, window_transcript

__all__ = ["HistoryStoreConformance", "SessionHandle", "make_item", "make_turn"]


def make_item(n: int | str, text: str | None = None, *, role: str = "user") -> Item:
    """A ``message`` item with id ``msg_<n>`` and one text part."""
    part = "output_text" if role == "assistant" else "input_text"
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": role,
        "status": "completed",
        "content": [{"type": part, "text": text if text is not None else f"text {n}"}],
    }


def make_turn(n: int) -> list[Item]:
    """A user + assistant pair with ids ``msg_<n>u`` / ``msg_<n>a``."""
    return [make_item(f"{n}u", f"question {n}"), make_item(f"{n}a", f"answer {n}", role="assistant")]


def _ids(items: list[Item]) -> list[str]:
    return [item["id"] for item in items]


@dataclass
class SessionHandle:
    """A store and a key, carrying the chain head between calls as the adapter does."""

    store: HistoryStore
    key: SessionKey
    head: str | None = field(default=None)

    async def append(self, items: list[Item]) -> int:
        result = await self.store.append(self.key, items, head=self.head)
        if result.head is not None:
            self.head = result.head
        return result.stored

    async def load(self, limit: int | None = None) -> list[Item]:
        return await self.store.load(self.key, limit=limit, head=self.head)


class HistoryStoreConformance:
    """Mixin of behaviour tests; the subclass provides the ``store`` fixture.

    Tests of optional operations skip when the store does not list the capability, so
    "not supported" stays apart from "broken". Do not override a test to make it pass:
    mark it ``xfail`` with a reason instead.
    """

    @pytest.fixture
    def store(self) -> HistoryStore:
        raise NotImplementedError("Override the 'store' fixture to return a fresh, empty HistoryStore.")

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def session(
        store: HistoryStore, session_id: str = "s1", *, user: str | None = None, chat: str | None = None
    ) -> SessionHandle:
        return SessionHandle(store, SessionKey(session_id, user=user, chat=chat))

    def process_target(self, store: HistoryStore) -> tuple[str, dict[str, Any]] | None:
        """``(target, options)`` with which another process opens ``store``'s data with ``open_store``.

        Override it in stores with :attr:`Capability.MULTI_PROCESS`; the default ``None`` makes the
        "another writer" tests write through ``store`` itself, from this process.
        """
        return None

    async def other_writer(self, store: HistoryStore, ops: list[dict[str, Any]]) -> list[Any]:
        """Run append / delete operations as another writer: another process when :meth:`process_target` says how.

        Each op is ``{"op": "append", "key": SessionKey, "items": [...], "head": ...}`` or
        ``{"op": "delete", "key": SessionKey}``; returns each append's head and each delete's result.
        """
        target = self.process_target(store)
        if target is None:
            results: list[Any] = []
            for op in ops:
                if op["op"] == "append":
                    results.append((await store.append(op["key"], op["items"], head=op.get("head"))).head)
                else:
                    results.append(await store.delete(op["key"]))
            return results
        wire = [{**op, "key": [op["key"].session_id, op["key"].user, op["key"].chat]} for op in ops]
        spec = json.dumps({"target": target[0], "options": target[1], "ops": wire})
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_framework_history.testing._child",
            spec,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), 120)
        assert child.returncode == 0, f"the other process failed: {err.decode(errors='replace')}"
        answer: list[Any] = json.loads(out)
        return answer

    @staticmethod
    def require(store: HistoryStore, capability: Capability) -> None:
        if capability not in store.capabilities:
            pytest.skip(f"{type(store).__name__} does not declare the {capability.value!r} capability")

    @staticmethod
    async def listed(store: HistoryStore, **partition: Any) -> set[SessionKey]:
        sessions: AsyncIterator[SessionKey] = store.list_sessions(**partition)
        return {key async for key in sessions}

    # -- the protocol ---------------------------------------------------------------------

    def test_store_satisfies_protocol(self, store: HistoryStore) -> None:
        assert isinstance(store, HistoryStore)
        assert isinstance(store.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in store.capabilities)

    # -- order and limits ---------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_load_of_unknown_session_is_empty(self, store: HistoryStore) -> None:
        assert await self.session(store, "never-written").load() == []

    @pytest.mark.asyncio
    async def test_append_then_load_returns_items_in_order(self, store: HistoryStore) -> None:
        s = self.session(store)
        items = [make_item(i) for i in range(5)]
        assert await s.append(items) == 5
        assert await s.load() == items

    @pytest.mark.asyncio
    async def test_appends_accumulate_chronologically(self, store: HistoryStore) -> None:
        s = self.session(store)
        for n in range(4):
            await s.append(make_turn(n))
        assert _ids(await s.load()) == [f"msg_{n}{r}" for n in range(4) for r in "ua"]

    @pytest.mark.asyncio
    async def test_load_limit_returns_latest_in_order(self, store: HistoryStore) -> None:
        s = self.session(store)
        for n in range(40):  # far more items than a limited load reads
            await s.append(make_turn(n))
        assert _ids(await s.load(limit=3)) == ["msg_38a", "msg_39u", "msg_39a"]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("transcript", WINDOW_TRANSCRIPTS)
    async def test_every_limit_gives_a_valid_window(self, store: HistoryStore, transcript: str) -> None:
        # Whole messages, results with their calls, calls with their reasoning, approval responses
        # with their requests: the latest `limit` items grown back to the nearest valid start.
        s = self.session(store)
        filler = [make_item(f"f{n}") for n in range(40)]  # more than a limited load reads at first
        await s.append(filler)
        for turn in window_transcript(transcript):
            await s.append(turn)
        full = (await s.load())[len(filler) :]
        assert _ids(full) == [item["id"] for turn in window_transcript(transcript) for item in turn]
        for limit in range(1, len(full) + 1):
            window = await s.load(limit=limit)
            assert window_problems(full, window, limit) == [], (limit, _ids(window))
            assert len(window) == shortest_valid_window(full, limit), (limit, _ids(window))

    @pytest.mark.asyncio
    async def test_a_window_grows_back_across_many_items(self, store: HistoryStore) -> None:
        # One tool result far after its call: the window reads back (in a few larger reads) to the call.
        s = self.session(store)
        call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}
        parts = [make_item(f"p{n}", role="assistant") for n in range(300)]
        result = {"type": "function_call_output", "id": "fco_1", "call_id": "c1", "output": "done"}
        await s.append([make_item("q"), call, *parts, result, make_item("after")])
        window = await s.load(limit=2)
        assert _ids(window) == ["fc_1", *_ids(parts), "fco_1", "msg_after"]

    @pytest.mark.asyncio
    async def test_load_limit_zero_is_empty(self, store: HistoryStore) -> None:
        s = self.session(store)
        await s.append(make_turn(0))
        assert await s.load(limit=0) == []

    @pytest.mark.asyncio
    async def test_load_limit_larger_than_history_returns_all(self, store: HistoryStore) -> None:
        s = self.session(store)
        await s.append(make_turn(0))
        assert _ids(await s.load(limit=100)) == ["msg_0u", "msg_0a"]

    @pytest.mark.asyncio
    async def test_load_limit_one_returns_last_item(self, store: HistoryStore) -> None:
        s = self.session(store)
        for n in range(3):
            await s.append(make_turn(n))
        assert _ids(await s.load(limit=1)) == ["msg_2a"]

    @pytest.mark.asyncio
    async def test_load_limit_equal_to_history_returns_all(self, store: HistoryStore) -> None:
        s = self.session(store)
        for n in range(2):
            await s.append(make_turn(n))
        assert _ids(await s.load(limit=4)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("limit", [-1, -100])
    async def test_negative_limit_is_rejected(self, store: HistoryStore, limit: int) -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.load(SessionKey("s1"), limit=limit)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("limit", [1.5, "3", True])
    async def test_non_integer_limit_is_rejected(self, store: HistoryStore, limit: Any) -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.load(SessionKey("s1"), limit=limit)

    # -- idempotency ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_reappending_same_items_stores_nothing_twice(self, store: HistoryStore) -> None:
        s = self.session(store)
        turn = make_turn(0)
        assert await s.append(turn) == 2
        assert await s.append(turn) == 0
        assert _ids(await s.load()) == ["msg_0u", "msg_0a"]

    @pytest.mark.asyncio
    async def test_replayed_transcript_stores_only_new_items(self, store: HistoryStore) -> None:
        s = self.session(store)
        await s.append(make_turn(0))
        assert await s.append(make_turn(0) + make_turn(1)) == 2
        assert _ids(await s.load()) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]

    @pytest.mark.asyncio
    async def test_duplicate_ids_inside_one_append_are_stored_once(self, store: HistoryStore) -> None:
        s = self.session(store)
        assert await s.append([make_item(1, "first"), make_item(1, "second"), make_item(2)]) == 2
        loaded = await s.load()
        assert _ids(loaded) == ["msg_1", "msg_2"]
        assert loaded[0]["content"][0]["text"] == "first"

    @pytest.mark.asyncio
    async def test_same_item_id_in_other_session_is_stored(self, store: HistoryStore) -> None:
        a, b = self.session(store, "a"), self.session(store, "b")
        await a.append([make_item(1)])
        assert await b.append([make_item(1)]) == 1
        assert _ids(await b.load()) == ["msg_1"]

    @pytest.mark.asyncio
    async def test_append_of_nothing_is_a_no_op(self, store: HistoryStore) -> None:
        s = self.session(store)
        assert await s.append([]) == 0
        assert await s.load() == []

    # -- data fidelity ------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_items_round_trip_exactly(self, store: HistoryStore) -> None:
        s = self.session(store)
        item: Item = {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"q": [1, 2.5, null, true, {"deep": "x"}]}',
            "status": "completed",
            "agent_framework": {"nested": {"list": [1, "two", None, False, 3.25]}, "empty": {}},
        }
        await s.append([item])
        assert await s.load() == [item]

    @pytest.mark.asyncio
    async def test_unicode_survives(self, store: HistoryStore) -> None:
        text = "héllo 世界 🧪 \u200b \\ \" ' \n\t زبان"
        s = self.session(store, "sessiøn-ü")
        await s.append([make_item("ü", text)])
        assert (await s.load())[0]["content"][0]["text"] == text

    @pytest.mark.asyncio
    async def test_one_megabyte_item_survives(self, store: HistoryStore) -> None:
        s = self.session(store)
        big = "x" * (1024 * 1024)
        await s.append([make_item("big", big), make_item("after")])
        loaded = await s.load()
        assert loaded[0]["content"][0]["text"] == big
        assert _ids(loaded) == ["msg_big", "msg_after"]

    @pytest.mark.asyncio
    async def test_changing_appended_dict_does_not_change_store(self, store: HistoryStore) -> None:
        s = self.session(store)
        item = make_item(1, "original")
        await s.append([item])
        item["content"][0]["text"] = "changed"
        assert (await s.load())[0]["content"][0]["text"] == "original"

    @pytest.mark.asyncio
    async def test_changing_loaded_dict_does_not_change_store(self, store: HistoryStore) -> None:
        s = self.session(store)
        await s.append([make_item(1, "original")])
        (await s.load())[0]["content"][0]["text"] = "changed"
        assert (await s.load())[0]["content"][0]["text"] == "original"

    # -- partitions ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_users_do_not_see_each_other(self, store: HistoryStore) -> None:
        alice, bob = self.session(store, user="alice"), self.session(store, user="bob")
        await alice.append([make_item("a")])
        await bob.append([make_item("b")])
        assert _ids(await alice.load()) == ["msg_a"]
        assert _ids(await bob.load()) == ["msg_b"]

    @pytest.mark.asyncio
    async def test_chats_do_not_see_each_other(self, store: HistoryStore) -> None:
        one, two = self.session(store, user="u", chat="c1"), self.session(store, user="u", chat="c2")
        await one.append([make_item("1")])
        await two.append([make_item("2")])
        assert _ids(await one.load()) == ["msg_1"]
        assert _ids(await two.load()) == ["msg_2"]

    @pytest.mark.asyncio
    async def test_anonymous_partition_is_its_own(self, store: HistoryStore) -> None:
        anon = self.session(store)
        named = self.session(store, user="alice")
        chat_only = self.session(store, chat="c1")
        await anon.append([make_item("anon")])
        await named.append([make_item("named")])
        await chat_only.append([make_item("chat")])
        assert _ids(await anon.load()) == ["msg_anon"]
        assert _ids(await named.load()) == ["msg_named"]
        assert _ids(await chat_only.load()) == ["msg_chat"]

    @pytest.mark.asyncio
    async def test_same_ids_in_every_partition_are_kept_apart(self, store: HistoryStore) -> None:
        handles = [self.session(store, user=u, chat=c) for u in (None, "u1", "u2") for c in (None, "c1")]
        for index, handle in enumerate(handles):
            await handle.append([make_item(1, f"partition {index}")])
        for index, handle in enumerate(handles):
            loaded = await handle.load()
            assert [i["content"][0]["text"] for i in loaded] == [f"partition {index}"]

    # -- listing and deleting -------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_list_sessions_lists_only_asked_partition(self, store: HistoryStore) -> None:
        self.require(store, Capability.LIST_SESSIONS)
        await self.session(store, "s1", user="alice").append([make_item(1)])
        await self.session(store, "s2", user="alice").append([make_item(1)])
        await self.session(store, "s3", user="bob").append([make_item(1)])
        await self.session(store, "s4").append([make_item(1)])
        await self.session(store, "s5", user="alice", chat="c").append([make_item(1)])
        assert await self.listed(store, user="alice") == {SessionKey("s1", "alice"), SessionKey("s2", "alice")}
        assert await self.listed(store, user="bob") == {SessionKey("s3", "bob")}
        assert await self.listed(store) == {SessionKey("s4")}
        assert await self.listed(store, user="alice", chat="c") == {SessionKey("s5", "alice", "c")}

    @pytest.mark.asyncio
    async def test_list_sessions_with_all_widens_the_partition(self, store: HistoryStore) -> None:
        self.require(store, Capability.LIST_SESSIONS)
        keys = {
            SessionKey("s1"),
            SessionKey("s2", "alice"),
            SessionKey("s3", "alice", "c"),
            SessionKey("s4", None, "c"),
        }
        for key in keys:
            await SessionHandle(store, key).append([make_item(1)])
        assert await self.listed(store, user=ALL, chat=ALL) == keys
        assert await self.listed(store, user="alice", chat=ALL) == {
            SessionKey("s2", "alice"),
            SessionKey("s3", "alice", "c"),
        }
        assert await self.listed(store, user=ALL, chat="c") == {
            SessionKey("s3", "alice", "c"),
            SessionKey("s4", None, "c"),
        }

    @pytest.mark.asyncio
    async def test_list_sessions_of_empty_store_is_empty(self, store: HistoryStore) -> None:
        self.require(store, Capability.LIST_SESSIONS)
        assert await self.listed(store, user=ALL, chat=ALL) == set()

    @pytest.mark.asyncio
    async def test_delete_removes_the_session(self, store: HistoryStore) -> None:
        self.require(store, Capability.DELETE)
        s = self.session(store, user="alice")
        await s.append(make_turn(0))
        assert await store.delete(s.key) is True
        assert await store.load(s.key) == []
        assert await store.delete(s.key) is False

    @pytest.mark.asyncio
    async def test_delete_touches_only_its_partition(self, store: HistoryStore) -> None:
        self.require(store, Capability.DELETE)
        keep = [self.session(store, user="bob"), self.session(store), self.session(store, user="alice", chat="c")]
        gone = self.session(store, user="alice")
        for handle in [*keep, gone]:
            await handle.append([make_item(1)])
        await store.delete(gone.key)
        for handle in keep:
            assert _ids(await handle.load()) == ["msg_1"]

    @pytest.mark.asyncio
    async def test_deleted_session_is_not_listed(self, store: HistoryStore) -> None:
        self.require(store, Capability.DELETE)
        self.require(store, Capability.LIST_SESSIONS)
        await self.session(store, "a").append([make_item(1)])
        await self.session(store, "b").append([make_item(1)])
        await store.delete(SessionKey("a"))
        assert await self.listed(store) == {SessionKey("b")}

    @pytest.mark.asyncio
    async def test_session_can_be_written_again_after_delete(self, store: HistoryStore) -> None:
        self.require(store, Capability.DELETE)
        await self.session(store).append([make_item(1, "old")])
        await store.delete(SessionKey("s1"))
        fresh = self.session(store)
        assert await fresh.append([make_item(1, "new")]) == 1
        assert [i["content"][0]["text"] for i in await fresh.load()] == ["new"]

    @pytest.mark.asyncio
    async def test_missing_capability_raises_unsupported(self, store: HistoryStore) -> None:
        missing = {Capability.DELETE, Capability.LIST_SESSIONS, Capability.ACTIVITY} - store.capabilities
        if not missing:
            pytest.skip("the store offers every optional operation")
        if Capability.DELETE in missing:
            with pytest.raises(UnsupportedOperationError):
                await store.delete(SessionKey("s1"))
        if Capability.LIST_SESSIONS in missing:
            with pytest.raises(UnsupportedOperationError):
                await self.listed(store)
        if Capability.ACTIVITY in missing:
            with pytest.raises(UnsupportedOperationError):
                await self.activity(store)
            with pytest.raises(UnsupportedOperationError):
                await store.prune(datetime.now(UTC), dry_run=True)

    @pytest.mark.asyncio
    async def test_check_storage_of_sound_storage_reports_nothing(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHECK)
        assert isinstance(store, StorageChecking)
        await self.session(store, "a").append(make_turn(0))
        await self.session(store, "b", user="u").append(make_turn(0))
        report = await store.check_storage()
        assert isinstance(report, StorageReport)
        assert (report.problems, report.repaired, report.ok) == ((), (), True)
        if Capability.REPAIR in store.capabilities:
            assert await store.check_storage(repair=True) == StorageReport()
            assert _ids(await self.session(store, "a").load()) == _ids(make_turn(0))  # nothing was changed

    @pytest.mark.asyncio
    async def test_check_storage_without_the_capability_is_unsupported(self, store: HistoryStore) -> None:
        if not isinstance(store, StorageChecking):
            pytest.skip("the store has no check_storage method (it does not derive from HistoryStoreBase)")
        if Capability.CHECK not in store.capabilities:
            with pytest.raises(UnsupportedOperationError):
                await store.check_storage()
        elif Capability.REPAIR not in store.capabilities:
            with pytest.raises(UnsupportedOperationError):
                await store.check_storage(repair=True)
        else:
            pytest.skip("the store checks and repairs its storage")

    # -- last activity and retention ------------------------------------------------------

    @staticmethod
    async def activity(store: HistoryStore, **partition: Any) -> dict[SessionKey, datetime]:
        found: dict[SessionKey, datetime] = {}
        async for entry in store.list_activity(**partition):
            assert isinstance(entry, SessionActivity)
            assert entry.key not in found, f"{entry.key} listed twice"
            found[entry.key] = entry.last_active
        return found

    @staticmethod
    async def tick() -> None:
        """Wait long enough for every backend's clock (SQLite keeps milliseconds) to move on."""
        await asyncio.sleep(0.02)

    @pytest.mark.asyncio
    async def test_list_activity_gives_each_session_the_time_of_its_latest_append(self, store: HistoryStore) -> None:
        self.require(store, Capability.ACTIVITY)
        first, second = self.session(store, "a", user="alice"), self.session(store, "b", chat="c")
        await first.append(make_turn(0))
        await self.tick()
        await second.append(make_turn(0))
        times = await self.activity(store, user=ALL, chat=ALL)
        assert set(times) == {first.key, second.key}
        for when in times.values():
            assert when.tzinfo is not None and when.utcoffset() == timedelta(0)
            assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)  # the store's clock, not the client's
        assert times[first.key] < times[second.key]
        await self.tick()
        await first.append(make_turn(1))
        again = await self.activity(store, user=ALL, chat=ALL)
        assert again[first.key] > times[second.key] and again[second.key] == times[second.key]
        assert set(await self.activity(store, user="alice")) == {first.key}  # chat=None: the anonymous chat
        assert set(await self.activity(store)) == set()

    @pytest.mark.asyncio
    async def test_prune_removes_only_sessions_idle_before_the_cutoff(self, store: HistoryStore) -> None:
        self.require(store, Capability.ACTIVITY)
        old = [self.session(store, "old1", user="alice"), self.session(store, "old2", chat="c")]
        for handle in old:
            await handle.append(make_turn(0))
        cutoff = max((await self.activity(store, user=ALL, chat=ALL)).values()) + timedelta(microseconds=1)
        await self.tick()
        fresh = self.session(store, "fresh", user="alice")
        await fresh.append(make_turn(0))
        planned = await store.prune(cutoff, dry_run=True)
        assert {a.key for a in planned} == {h.key for h in old}
        assert all(a.last_active < cutoff for a in planned)
        for handle in [*old, fresh]:
            assert len(await handle.load()) == 2  # a dry run removes nothing
        removed = await store.prune(cutoff)
        assert {a.key for a in removed} == {h.key for h in old}
        for handle in old:
            assert await store.load(handle.key) == []
        assert _ids(await fresh.load()) == ["msg_0u", "msg_0a"]
        assert set(await self.activity(store, user=ALL, chat=ALL)) == {fresh.key}
        assert await store.prune(cutoff) == []

    @pytest.mark.asyncio
    async def test_prune_narrowed_to_a_user_takes_every_chat_of_that_user(self, store: HistoryStore) -> None:
        self.require(store, Capability.ACTIVITY)
        alice = [self.session(store, "s", user="alice"), self.session(store, "s", user="alice", chat="work")]
        others = [self.session(store, "s", user="bob"), self.session(store, "s")]
        for handle in [*alice, *others]:
            await handle.append([make_item(1)])
        removed = await store.prune(datetime.now(UTC) + timedelta(days=1), user="alice")
        assert {a.key for a in removed} == {h.key for h in alice}
        for handle in others:
            assert _ids(await handle.load()) == ["msg_1"]

    @pytest.mark.asyncio
    async def test_a_session_appended_to_after_listing_is_not_pruned(self, store: HistoryStore) -> None:
        self.require(store, Capability.ACTIVITY)
        if not isinstance(store, HistoryStoreBase):
            pytest.skip("the check between listing and removing is HistoryStoreBase._do_delete_idle")
        s = self.session(store, user="alice")
        await s.append(make_turn(0))
        listed = (await self.activity(store, user="alice"))[s.key]
        await self.tick()
        await s.append(make_turn(1))  # the session is used between prune's listing and its removal
        cutoff = listed + timedelta(microseconds=1)
        assert await store._do_delete_idle(s.key, cutoff) is False
        assert len(await s.load()) == 4
        assert await store._do_delete_idle(s.key, datetime.now(UTC) + timedelta(days=1)) is True
        assert await store.load(s.key) == []

    @pytest.mark.asyncio
    @pytest.mark.parametrize("before", [datetime(2020, 1, 1), "2020-01-01", 0])  # the first one is naive
    async def test_prune_refuses_a_cutoff_that_is_not_an_aware_datetime(self, store: HistoryStore, before: Any) -> None:
        self.require(store, Capability.ACTIVITY)
        s = self.session(store)
        await s.append([make_item(1)])
        with pytest.raises(ValueError, match="before must be"):
            await store.prune(before)
        assert _ids(await s.load()) == ["msg_1"]

    @pytest.mark.asyncio
    async def test_deleted_session_has_no_activity(self, store: HistoryStore) -> None:
        self.require(store, Capability.ACTIVITY)
        s = self.session(store, user="alice")
        await s.append([make_item(1)])
        assert await store.delete(s.key) is True
        assert await self.activity(store, user=ALL, chat=ALL) == {}

    # -- concurrency ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_concurrent_appends_to_one_session_each_land_once(self, store: HistoryStore) -> None:
        self.require(store, Capability.CONCURRENT_APPEND)
        key = SessionKey("busy", user="u")
        await asyncio.gather(*(store.append(key, make_turn(n)) for n in range(50)))
        await asyncio.gather(*(store.append(key, make_turn(n)) for n in range(0, 50, 5)))
        loaded = await store.load(key)
        assert sorted(_ids(loaded)) == sorted(f"msg_{n}{r}" for n in range(50) for r in "ua")
        for n in range(50):  # a turn's items stay together and in order
            position = _ids(loaded).index(f"msg_{n}u")
            assert loaded[position + 1]["id"] == f"msg_{n}a"

    @pytest.mark.asyncio
    async def test_concurrent_appends_to_many_sessions_each_land_once(self, store: HistoryStore) -> None:
        handles = [self.session(store, f"s{n}", user="u") for n in range(50)]
        await asyncio.gather(*(h.append(make_turn(n)) for n, h in enumerate(handles)))
        for n, handle in enumerate(handles):
            assert _ids(await handle.load()) == [f"msg_{n}u", f"msg_{n}a"]

    # -- closing ------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_use_after_close_raises(self, store: HistoryStore) -> None:
        key = SessionKey("s1")
        await store.aclose()
        with pytest.raises(StoreClosedError):
            await store.append(key, [make_item(1)])
        with pytest.raises(StoreClosedError):
            await store.load(key)
        with pytest.raises(StoreClosedError):
            await store.load_after(key, None)
        with pytest.raises(StoreClosedError):
            await store.delete(key)
        with pytest.raises(StoreClosedError):
            await self.listed(store)

    @pytest.mark.asyncio
    async def test_close_twice_is_harmless(self, store: HistoryStore) -> None:
        await store.aclose()
        await store.aclose()

    @pytest.mark.asyncio
    async def test_async_with_closes_the_store(self, store: HistoryStore) -> None:
        async with store as entered:
            assert entered is store
            await self.session(store).append([make_item(1)])
        with pytest.raises(StoreClosedError):
            await store.load(SessionKey("s1"))

    # -- bad input ------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("key", ["s1", None, ("s1", None, None)])
    async def test_key_that_is_not_a_session_key_is_rejected(self, store: HistoryStore, key: Any) -> None:
        with pytest.raises(ValueError, match="SessionKey"):
            await store.load(key)
        with pytest.raises(ValueError, match="SessionKey"):
            await store.append(key, [make_item(1)])

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("items", "message"),
        [
            ([{"id": "x"}], "type"),
            ([{"type": "message"}], "'id'"),
            ([{"type": "message", "id": ""}], "'id'"),
            (["not a dict"], "dict"),
            ({"type": "message", "id": "x"}, "sequence"),
        ],
    )
    async def test_malformed_items_are_rejected_and_nothing_is_stored(
        self, store: HistoryStore, items: Any, message: str
    ) -> None:
        s = self.session(store)
        with pytest.raises(ValueError, match=message):
            await store.append(s.key, [make_item(0), *items] if is_json_array(items) else items)
        assert await s.load() == []

    # -- chain heads ----------------------------------------------------------------------
    #
    # A conversation is a chain of turns: every append records a turn whose parent is the head it
    # continued, so a host that restores an earlier head (a retry, a fork by previous_response_id)
    # gets exactly the history that ended there.

    async def turn(self, store: HistoryStore, key: SessionKey, items: list[Item], head: str | None = None) -> str:
        """Append one turn and return its head (asserting the store returned one)."""
        result = await store.append(key, items, head=head)
        assert isinstance(result.head, str) and result.head, f"append returned no chain head: {result!r}"
        return result.head

    @pytest.mark.asyncio
    async def test_chain_head_continues_the_history(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        s = self.session(store)
        first = await store.append(s.key, make_turn(0))
        assert isinstance(first.head, str) and first.head
        second = await store.append(s.key, make_turn(1), head=first.head)
        assert second.head and second.head != first.head
        assert _ids(await store.load(s.key, head=second.head)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]
        assert _ids(await store.load(s.key, head=first.head)) == ["msg_0u", "msg_0a"]

    @pytest.mark.asyncio
    async def test_every_turn_gets_its_own_head(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice")
        heads = [await self.turn(store, key, make_turn(n)) for n in range(4)]  # head=None: the latest tip
        assert len(set(heads)) == 4
        for n, head in enumerate(heads):
            assert _ids(await store.load(key, head=head)) == [f"msg_{i}{r}" for i in range(n + 1) for r in "ua"]

    @pytest.mark.asyncio
    async def test_append_at_an_earlier_head_forks_the_chain(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice")
        h1 = await self.turn(store, key, make_turn(1))
        h2 = await self.turn(store, key, make_turn(2), h1)
        h3 = await self.turn(store, key, make_turn(3), h2)
        fork = await self.turn(store, key, make_turn(9), h1)  # a retry of turn 2, or a fork from turn 1
        assert _ids(await store.load(key, head=fork)) == ["msg_1u", "msg_1a", "msg_9u", "msg_9a"]
        assert _ids(await store.load(key, head=h3)) == [f"msg_{n}{r}" for n in (1, 2, 3) for r in "ua"]
        assert _ids(await store.load(key, head=h2)) == ["msg_1u", "msg_1a", "msg_2u", "msg_2a"]

    @pytest.mark.asyncio
    async def test_branches_continue_independently(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        root = await self.turn(store, key, make_turn(0))
        left = await self.turn(store, key, make_turn(1), root)
        right = await self.turn(store, key, make_turn(2), root)
        left2 = await self.turn(store, key, make_turn(3), left)
        right2 = await self.turn(store, key, make_turn(4), right)
        inner = await self.turn(store, key, make_turn(5), left)  # a fork of the left branch
        assert _ids(await store.load(key, head=left2)) == [f"msg_{n}{r}" for n in (0, 1, 3) for r in "ua"]
        assert _ids(await store.load(key, head=right2)) == [f"msg_{n}{r}" for n in (0, 2, 4) for r in "ua"]
        assert _ids(await store.load(key, head=inner)) == [f"msg_{n}{r}" for n in (0, 1, 5) for r in "ua"]

    @pytest.mark.asyncio
    async def test_limit_counts_back_along_the_chain_across_forks(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        h0 = await self.turn(store, key, make_turn(0))
        h1 = await self.turn(store, key, make_turn(1), h0)
        await self.turn(store, key, make_turn(2), h1)
        fork = await self.turn(store, key, make_turn(7), h1)
        tip = await self.turn(store, key, make_turn(8), fork)
        assert _ids(await store.load(key, head=tip, limit=5)) == ["msg_1a", "msg_7u", "msg_7a", "msg_8u", "msg_8a"]
        assert _ids(await store.load(key, head=h1, limit=3)) == ["msg_0a", "msg_1u", "msg_1a"]
        assert _ids(await store.load(key, head=tip, limit=1)) == ["msg_8a"]

    @pytest.mark.asyncio
    async def test_items_of_another_branch_are_stored_on_a_fork(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        root = await self.turn(store, key, [make_item("a")])
        await self.turn(store, key, [make_item("b", "first try")], root)
        # The same item id on a sibling branch is not in this chain, so it is stored here too.
        result = await store.append(key, [make_item("b", "second try")], head=root)
        assert result.stored == 1 and result.head
        loaded = await store.load(key, head=result.head)
        assert _ids(loaded) == ["msg_a", "msg_b"]
        assert loaded[1]["content"][0]["text"] == "second try"

    @pytest.mark.asyncio
    async def test_replayed_chain_at_a_head_stores_only_new_items(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        h0 = await self.turn(store, key, make_turn(0))
        h1 = await self.turn(store, key, make_turn(1), h0)
        result = await store.append(key, make_turn(0) + make_turn(1) + make_turn(2), head=h1)
        assert result.stored == 2
        assert result.head is not None
        assert _ids(await store.load(key, head=result.head)) == [f"msg_{n}{r}" for n in range(3) for r in "ua"]

    @pytest.mark.asyncio
    async def test_append_of_nothing_new_keeps_the_head(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        h0 = await self.turn(store, key, make_turn(0))
        h1 = await self.turn(store, key, make_turn(1), h0)
        again = await store.append(key, make_turn(1), head=h1)
        assert again.stored == 0
        assert again.head == h1
        assert _ids(await store.load(key, head=h1)) == ["msg_0u", "msg_0a", "msg_1u", "msg_1a"]

    @pytest.mark.asyncio
    async def test_without_a_head_load_and_append_follow_the_latest_turn(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        h0 = await self.turn(store, key, make_turn(0))
        await self.turn(store, key, make_turn(1), h0)
        await self.turn(store, key, make_turn(2), h0)  # the latest turn is now on the fork
        assert _ids(await store.load(key)) == ["msg_0u", "msg_0a", "msg_2u", "msg_2a"]
        tip = await self.turn(store, key, make_turn(3))
        assert _ids(await store.load(key, head=tip)) == [f"msg_{n}{r}" for n in (0, 2, 3) for r in "ua"]

    @pytest.mark.asyncio
    async def test_head_of_another_users_session_loads_nothing(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        alice = SessionKey("s1", user="alice")
        head = await self.turn(store, alice, [make_item(1, "alice's secret")])
        for other in (SessionKey("s1", user="bob"), SessionKey("s1"), SessionKey("s1", user="alice", chat="c")):
            assert await store.load(other, head=head) == [], other

    @pytest.mark.asyncio
    async def test_append_at_another_users_head_starts_a_new_chain(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        alice, bob = SessionKey("s1", user="alice"), SessionKey("s1", user="bob")
        head = await self.turn(store, alice, [make_item(1, "alice's secret")])
        bobs = await self.turn(store, bob, [make_item(2, "bob")], head)
        assert [i["content"][0]["text"] for i in await store.load(bob, head=bobs)] == ["bob"]
        assert [i["content"][0]["text"] for i in await store.load(alice, head=head)] == ["alice's secret"]

    @pytest.mark.asyncio
    async def test_head_of_a_deleted_session_loads_nothing(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        self.require(store, Capability.DELETE)
        key = SessionKey("s1", user="alice")
        old = await self.turn(store, key, [make_item(1, "old")])
        assert await store.delete(key) is True
        assert await store.load(key, head=old) == []
        new = await self.turn(store, key, [make_item(2, "new")], old)
        assert [i["content"][0]["text"] for i in await store.load(key, head=new)] == ["new"]
        assert await store.load(key, head=old) == []

    @pytest.mark.asyncio
    @pytest.mark.parametrize("head", [7, b"turn", "", ["turn"]])
    async def test_a_head_that_is_not_a_string_is_refused(self, store: HistoryStore, head: Any) -> None:
        key = SessionKey("s1")
        with pytest.raises(ValueError, match="head"):
            await store.load(key, head=head)
        with pytest.raises(ValueError, match="head"):
            await store.append(key, [make_item(1)], head=head)
        with pytest.raises(ValueError, match="head"):
            await store.append(key, [], head=head)
        assert await store.load(key) == []

    @pytest.mark.asyncio
    async def test_concurrent_appends_at_one_head_each_keep_their_own_chain(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="u")
        root = await self.turn(store, key, make_turn(0))
        heads = await asyncio.gather(*(self.turn(store, key, make_turn(n), root) for n in range(1, 11)))
        assert len(set(heads)) == 10
        for n, head in enumerate(heads, 1):
            assert _ids(await store.load(key, head=head)) == ["msg_0u", "msg_0a", f"msg_{n}u", f"msg_{n}a"]

    # -- reading what follows a head ------------------------------------------------------
    #
    # load_after(key, after, head=H) is what lets a caller keep what it read: it returns what the
    # chain ending at H holds after the turn `after`, or, when `after` is not on that chain, the whole
    # chain and says so. A store without Capability.LOAD_AFTER always says so.

    @staticmethod
    def check_tail(store: HistoryStore, tail: ChainTail, whole: list[str], after: list[str], head: str | None) -> None:
        """``tail`` continues with the ids ``after`` (or, without LOAD_AFTER, is the whole chain ``whole``)."""
        if Capability.LOAD_AFTER in store.capabilities:
            assert (tail.continues, _ids(tail.items), tail.head) == (True, after, head)
        else:
            assert (tail.continues, _ids(tail.items)) == (False, whole)

    @pytest.mark.asyncio
    async def test_load_after_gives_what_follows_the_head(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice")
        h1 = await self.turn(store, key, make_turn(1))
        h2 = await self.turn(store, key, make_turn(2), h1)
        h3 = await self.turn(store, key, make_turn(3), h2)
        whole = _ids(await store.load(key))
        self.check_tail(store, await store.load_after(key, h1), whole, whole[2:], h3)
        self.check_tail(store, await store.load_after(key, h2), whole, whole[4:], h3)
        self.check_tail(store, await store.load_after(key, h1, head=h2), whole[:4], whole[2:4], h2)
        self.check_tail(store, await store.load_after(key, h3, head=h3), whole, [], h3)
        self.check_tail(store, await store.load_after(key, h3), whole, [], h3)  # nothing new at the tip

    @pytest.mark.asyncio
    async def test_load_after_nothing_is_the_whole_chain(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice")
        assert await store.load_after(key, None) == ChainTail(items=[], head=None, continues=False)
        h1 = await self.turn(store, key, make_turn(1))
        h2 = await self.turn(store, key, make_turn(2), h1)
        tail = await store.load_after(key, None, head=h1)
        assert (tail.continues, _ids(tail.items)) == (False, _ids(await store.load(key, head=h1)))
        latest = await store.load_after(key, None)
        assert (latest.continues, _ids(latest.items)) == (False, _ids(await store.load(key)))
        if Capability.LOAD_AFTER in store.capabilities:  # a store without it may not name the tip
            assert (tail.head, latest.head) == (h1, h2)

    @pytest.mark.asyncio
    async def test_load_after_a_turn_of_another_branch_is_not_continued(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice")
        h1 = await self.turn(store, key, make_turn(1))
        h2 = await self.turn(store, key, make_turn(2), h1)
        fork = await self.turn(store, key, make_turn(9), h1)  # the latest turn, on a branch without turn 2
        tail = await store.load_after(key, h2)
        assert (tail.continues, _ids(tail.items)) == (False, ["msg_1u", "msg_1a", "msg_9u", "msg_9a"])
        self.check_tail(store, await store.load_after(key, h1), _ids(tail.items), ["msg_9u", "msg_9a"], fork)
        back = await store.load_after(key, fork, head=h2)  # a later turn is no ancestor of an earlier one
        assert (back.continues, _ids(back.items)) == (False, ["msg_1u", "msg_1a", "msg_2u", "msg_2a"])
        h3 = await self.turn(store, key, make_turn(3), h2)  # the old branch goes on
        on_h3 = [f"msg_{n}{r}" for n in (1, 2, 3) for r in "ua"]
        self.check_tail(store, await store.load_after(key, h2, head=h3), on_h3, on_h3[4:], h3)

    @pytest.mark.asyncio
    async def test_load_after_a_head_of_another_session_or_partition_is_not_continued(
        self, store: HistoryStore
    ) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        alice, bob, other = SessionKey("s1", user="alice"), SessionKey("s1", user="bob"), SessionKey("s2", user="alice")
        alices = await self.turn(store, alice, [make_item(1, "alice's secret")])
        await self.turn(store, bob, [make_item(2, "bob")])
        await self.turn(store, other, [make_item(3, "other")])
        for key, text in ((bob, "bob"), (other, "other")):
            tail = await store.load_after(key, alices)
            assert tail.continues is False
            assert [i["content"][0]["text"] for i in tail.items] == [text]
        unknown = await store.load_after(bob, "turn_" + "0" * 32)
        assert (unknown.continues, [i["content"][0]["text"] for i in unknown.items]) == (False, ["bob"])
        assert await store.load_after(bob, alices, head=alices) == ChainTail(items=[], head=None, continues=False)

    @pytest.mark.asyncio
    async def test_load_after_in_a_deleted_session_is_not_continued(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        self.require(store, Capability.DELETE)
        key = SessionKey("s1", user="alice")
        old = await self.turn(store, key, [make_item(1, "old")])
        assert await self.other_writer(store, [{"op": "delete", "key": key}]) == [True]
        assert await store.load_after(key, old) == ChainTail(items=[], head=None, continues=False)
        assert await store.load_after(key, old, head=old) == ChainTail(items=[], head=None, continues=False)
        [new] = await self.other_writer(store, [{"op": "append", "key": key, "items": [make_item(2, "new")]}])
        tail = await store.load_after(key, old)
        assert (tail.continues, [i["content"][0]["text"] for i in tail.items]) == (False, ["new"])
        if Capability.LOAD_AFTER in store.capabilities:
            assert tail.head == new

    @pytest.mark.asyncio
    async def test_load_after_sees_what_another_writer_appended_and_forked(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1", user="alice", chat="c")
        h1 = await self.turn(store, key, make_turn(1))
        h2, fork, h3 = await self.other_writer(
            store,
            [
                {"op": "append", "key": key, "items": make_turn(2), "head": h1},
                {"op": "append", "key": key, "items": make_turn(9), "head": h1},
                {"op": "append", "key": key, "items": make_turn(3)},  # at the latest turn: the fork's
            ],
        )
        on_h2 = ["msg_1u", "msg_1a", "msg_2u", "msg_2a"]
        self.check_tail(store, await store.load_after(key, h1, head=h2), on_h2, on_h2[2:], h2)
        whole = ["msg_1u", "msg_1a", "msg_9u", "msg_9a", "msg_3u", "msg_3a"]
        self.check_tail(store, await store.load_after(key, h1), whole, whole[2:], h3)
        self.check_tail(store, await store.load_after(key, fork), whole, whole[4:], h3)
        off = await store.load_after(key, h2)  # h2 is on a branch the latest turn does not continue
        assert (off.continues, _ids(off.items)) == (False, whole)

    @pytest.mark.asyncio
    async def test_load_after_returns_copies(self, store: HistoryStore) -> None:
        self.require(store, Capability.CHAIN_HEAD)
        key = SessionKey("s1")
        h1 = await self.turn(store, key, [make_item(1, "one")])
        await self.turn(store, key, [make_item(2, "two")], h1)
        tail = await store.load_after(key, h1)
        tail.items[-1]["content"][0]["text"] = "changed"
        again = await store.load_after(key, h1)
        assert again.items[-1]["content"][0]["text"] == "two"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("head", [7, b"turn", "", ["turn"]])
    async def test_load_after_refuses_a_head_that_is_not_a_string(self, store: HistoryStore, head: Any) -> None:
        key = SessionKey("s1")
        with pytest.raises(ValueError, match="head"):
            await store.load_after(key, head)
        with pytest.raises(ValueError, match="head"):
            await store.load_after(key, None, head=head)

    # -- what an item may hold ------------------------------------------------------------
    #
    # One validator in the core (check_items) decides for every backend which items can be stored,
    # so a history moves between backends without failing part-way. Each refused item is refused with
    # a ValueError naming where it sits, before anything of the append is stored; everything on the
    # edge of what is allowed round-trips exactly.

    @staticmethod
    def _nested(depth: int) -> Item:
        value: Any = "leaf"
        for _ in range(depth - 1):  # the item itself is level 1
            value = {"x": value}
        return {"type": "message", "id": "deep", "payload": value}

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ({"type": "message", "id": "mark", "af_nonfinite": [["x"]], "x": "1"}, r"items\[1\]\.af_nonfinite .*"),
            ({"type": "message", "id": "mark2", "af_nonfinite": "x"}, r"items\[1\]\.af_nonfinite .*list of paths"),
            ({"type": "message", "id": "big", "n": 2**63}, r"items\[1\]\.n .*outside the range"),
            ({"type": "message", "id": "small", "n": -(2**63) - 1}, r"items\[1\]\.n .*outside the range"),
            ({"type": "message", "id": "huge", "n": 10**5000}, r"items\[1\]\.n .*over 4000 digits"),
            ({"type": "message", "id": "s", "text": "a\ud800b"}, r"items\[1\]\.text .*lone surrogate"),
            ({"type": "message", "id": "k", "x": {"\udfff": 1}}, r"items\[1\]\.x\[.*lone surrogate"),
            ({"type": "message", "id": "sur\udc80rogate"}, r"items\[1\]\.id .*lone surrogate"),
            ({"type": "message", "id": "nul\x00id"}, r"items\[1\]\.id .*NUL"),
            ({"type": "message", "id": "set", "x": {1, 2}}, r"items\[1\]\.x .*JSON values only"),
        ],
        ids=["bad-nonfinite-path", "bad-nonfinite-key", "2**63", "-2**63-1", "5000-digits", "surrogate",
             "surrogate-key", "surrogate-id", "nul-id", "set"],
    )  # fmt: skip
    async def test_items_no_backend_can_keep_are_refused_and_nothing_is_stored(
        self, store: HistoryStore, bad: Item, message: str
    ) -> None:
        s = self.session(store)
        with pytest.raises(ValueError, match=message):
            await store.append(s.key, [make_item(0), bad])
        assert await s.load() == []

    @pytest.mark.asyncio
    async def test_nesting_deeper_than_the_limit_is_refused(self, store: HistoryStore) -> None:
        from .._json import MAX_DEPTH

        s = self.session(store)
        with pytest.raises(ValueError, match=rf"nested more than {MAX_DEPTH} levels"):
            await store.append(s.key, [make_item(0), self._nested(MAX_DEPTH + 1)])
        assert await s.load() == []

    @pytest.mark.asyncio
    async def test_values_at_the_edge_of_what_is_allowed_round_trip(self, store: HistoryStore) -> None:
        from .._json import MAX_DEPTH, MAX_INT, MIN_INT

        s = self.session(store)
        edge: Item = {
            "type": "message",
            "id": "edge",
            "ints": [MAX_INT, MIN_INT, 0, -1],
            "floats": [1e300, -2.5e-300, 0.1, -0.0],
            "text": "NUL \x00 inside text, astral \U0001f600, combining e\u0301",
            "\U0001f511 key": True,
        }
        await s.append([edge, self._nested(MAX_DEPTH)])
        loaded = await s.load()
        assert loaded == [edge, self._nested(MAX_DEPTH)]
        assert [type(n) for n in loaded[0]["ints"] + loaded[0]["floats"]] == [int] * 4 + [float] * 4
        assert str(loaded[0]["floats"][3]) == "-0.0"

    @staticmethod
    def _nonfinite_item(item_id: str = "nonfinite") -> Item:
        return {
            "type": "message",
            "id": item_id,
            "score": float("nan"),
            "range": [float("-inf"), 0.5, float("inf")],
            "words": ["NaN", "Infinity", "-Infinity"],  # strings stay strings
            "nested": {"deeper": [{"x": float("nan"), "text": "NaN"}]},
            "af_note": "Infinity",
        }

    @staticmethod
    def _exact(items: list[Item]) -> str:
        """Items as JSON text that tells NaN from "NaN", 1 from 1.0 and -0.0 from 0.0."""
        import json

        return json.dumps(items, allow_nan=True, ensure_ascii=False)

    @pytest.mark.asyncio
    async def test_nan_and_infinity_round_trip_exactly(self, store: HistoryStore) -> None:
        s = self.session(store)
        item = self._nonfinite_item()
        await s.append([make_item(0), item, make_item(1)])
        loaded = await s.load()
        assert self._exact(loaded) == self._exact([make_item(0), item, make_item(1)])
        assert loaded[1]["score"] != loaded[1]["score"]  # a float NaN, not a string
        assert loaded[1]["range"] == [float("-inf"), 0.5, float("inf")]
        assert loaded[1]["words"] == ["NaN", "Infinity", "-Infinity"]
        assert self._exact(await s.load(limit=2)) == self._exact([item, make_item(1)])
        assert await s.append([loaded[1]]) == 0  # the same id: not stored twice
        loaded[1]["range"][0] = 7.0  # a loaded item is a copy
        assert self._exact(await s.load()) == self._exact([make_item(0), item, make_item(1)])

    @pytest.mark.asyncio
    async def test_the_stored_form_of_nan_appends_as_the_numbers(self, store: HistoryStore) -> None:
        import json

        from .._nonfinite import stored_form

        s = self.session(store)
        item = self._nonfinite_item("exported")
        encoded = stored_form(item)
        json.dumps(encoded, allow_nan=False)  # plain JSON: the words, no NaN numbers
        await s.append([encoded])
        assert self._exact(await s.load()) == self._exact([item])

    @pytest.mark.parametrize("field", ["session_id", "user", "chat"])
    def test_session_keys_with_lone_surrogates_are_refused(self, field: str) -> None:
        with pytest.raises(ValueError, match=rf"SessionKey\.{field} .*lone surrogate"):
            SessionKey(**{"session_id": "s1", field: "a\udc80"})
