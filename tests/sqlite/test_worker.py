"""The worker thread that runs every SQLite call of a store."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent_framework_history_sqlite._worker import Worker


@pytest.mark.asyncio
async def test_jobs_run_in_order_on_one_thread_and_results_come_back() -> None:
    worker = Worker("test-worker")
    try:
        seen: list[tuple[int, str]] = []

        def job(n: int) -> int:
            seen.append((n, threading.current_thread().name))
            return n * n

        results = await asyncio.gather(*(worker.run(lambda n=n: job(n)) for n in range(20)))
        assert results == [n * n for n in range(20)]
        assert [n for n, _ in seen] == list(range(20))
        assert {name for _, name in seen} == {"test-worker"}
    finally:
        worker.stop()


@pytest.mark.asyncio
async def test_exceptions_reach_the_caller() -> None:
    worker = Worker("test-worker")
    try:

        def fail() -> None:
            raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            await worker.run(fail)
        assert await worker.run(lambda: "still serving") == "still serving"
    finally:
        worker.stop()


@pytest.mark.asyncio
async def test_a_job_cancelled_before_it_starts_never_runs() -> None:
    worker = Worker("test-worker")
    release = threading.Event()
    ran: list[str] = []
    try:
        blocker = asyncio.ensure_future(worker.run(lambda: release.wait(10)))
        queued = asyncio.ensure_future(worker.run(lambda: ran.append("queued")))
        await asyncio.sleep(0)  # both jobs are on the queue now
        queued.cancel()
        release.set()
        assert await blocker is True
        assert await worker.run(lambda: "after") == "after"
        assert queued.cancelled()
        assert ran == []
    finally:
        release.set()
        worker.stop()
