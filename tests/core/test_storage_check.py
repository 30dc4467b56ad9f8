"""``af-history check`` reaches a backend's own storage check through Capability.CHECK and its typed report."""

from __future__ import annotations

from typing import ClassVar

import pytest

from agent_framework_history import Capability, SessionKey, UnsupportedOperationError
from agent_framework_history.backend import ProblemKind, StorageProblem, StorageRepair, StorageReport
from agent_framework_history.cli._repair import backend_check

from .conftest import ListStore

KEY = SessionKey("s")


class CheckingStore(ListStore):
    """Reports one torn and one corrupt record; "repairs" the torn one when asked."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = ListStore.CAPABILITIES | {Capability.CHECK, Capability.REPAIR}

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[bool] = []

    async def _do_check_storage(self, repair: bool) -> StorageReport:
        self.asked.append(repair)
        corrupt = StorageProblem(ProblemKind.CORRUPT, "f:2", "corrupt line: not JSON", KEY)
        if repair:
            return StorageReport((corrupt,), (StorageRepair("f", "torn last line 3 (removed 5 bytes)", KEY),))
        return StorageReport((corrupt, StorageProblem(ProblemKind.TORN, "f:3", "torn line: no newline", KEY)))


class CheckOnlyStore(CheckingStore):
    CAPABILITIES: ClassVar[frozenset[Capability]] = ListStore.CAPABILITIES | {Capability.CHECK}


@pytest.mark.asyncio
async def test_the_cli_reads_the_typed_report() -> None:
    async with CheckingStore() as store:
        report = await backend_check(store, repair=False)
        assert report is not None
        assert [(p.where, p.what, p.repairable) for p in report.problems] == [
            ("f:2", "corrupt line: not JSON", False),
            ("f:3", "torn line: no newline", True),
        ]
        assert report.repaired == []
        repaired = await backend_check(store, repair=True)
        assert repaired is not None
        assert repaired.repaired == ["f: torn last line 3 (removed 5 bytes)"]
        assert [p.where for p in repaired.problems] == ["f:2"]
        assert store.asked == [False, True]


@pytest.mark.asyncio
async def test_a_store_that_cannot_repair_is_only_checked_and_nothing_is_offered_as_repairable() -> None:
    async with CheckOnlyStore() as store:
        report = await backend_check(store, repair=True)
        assert report is not None and store.asked == [False]
        assert [p.repairable for p in report.problems] == [False, False]
        with pytest.raises(UnsupportedOperationError, match="cannot repair its storage"):
            await store.check_storage(repair=True)


@pytest.mark.asyncio
async def test_a_store_without_the_capability_is_not_asked() -> None:
    async with ListStore() as store:
        assert await backend_check(store, repair=True) is None
        with pytest.raises(UnsupportedOperationError, match="cannot inspect its own storage"):
            await store.check_storage()


def test_only_torn_problems_are_repairable() -> None:
    assert StorageProblem(ProblemKind.TORN, "x", "y").repairable
    assert not StorageProblem(ProblemKind.CORRUPT, "x", "y").repairable
    assert StorageReport().ok and not StorageReport((StorageProblem(ProblemKind.CORRUPT, "x", "y"),)).ok
