"""Several processes and connections on one database file."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from agent_framework_history import SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_sqlite import DatabaseLockedError, SQLiteHistoryStore

WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from agent_framework_history import SessionKey
    from agent_framework_history_sqlite import SQLiteHistoryStore

    async def main(path: str, worker: str, turns: int, go: Path) -> None:
        key = SessionKey("shared", user="u", chat="c")
        async with SQLiteHistoryStore(path) as store:
            print("ready", flush=True)
            while not go.exists():
                time.sleep(0.002)
            for n in range(turns):
                question = {"type": "input_text", "text": f"q {n}"}
                answer = {"type": "output_text", "text": f"a {n}"}
                await store.append(key, [
                    {"type": "message", "id": f"msg_{worker}-{n}u", "role": "user", "content": [question]},
                    {"type": "message", "id": f"msg_{worker}-{n}a", "role": "assistant", "content": [answer]},
                ])

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))
    """
)


def run_workers(path: Path, workers: list[str], turns: int) -> None:
    """Start one process per name, let them all open the store, then release them at once."""
    go = path.parent / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), name, str(turns), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in workers
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        go.touch()
        outcomes = [proc.communicate(timeout=240) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (_, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err, err


@pytest.mark.slow
@pytest.mark.asyncio
async def test_four_processes_appending_500_turns_to_one_session_store_exactly_4000_items(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    workers = ["w0", "w1", "w2", "w3"]
    await asyncio.to_thread(run_workers, path, workers, 500)
    async with SQLiteHistoryStore(path) as store:
        loaded = await store.load(SessionKey("shared", user="u", chat="c"))
    ids = [item["id"] for item in loaded]
    assert len(ids) == 4000
    assert len(set(ids)) == 4000
    for worker in workers:
        own = [i for i in ids if i.startswith(f"msg_{worker}-")]
        assert own == [f"msg_{worker}-{n}{r}" for n in range(500) for r in "ua"]  # each process's order kept
    for position in range(0, 4000, 2):  # a turn's two items are never split by another process
        assert ids[position].endswith("u") and ids[position + 1] == ids[position][:-1] + "a"
    owners = [i.split("-")[0] for i in ids[::2]]
    switches = sum(1 for a, b in itertools.pairwise(owners) if a != b)
    assert switches > len(workers) - 1, "the processes never overlapped, so this run tested nothing"
    conn = sqlite3.connect(path)
    try:
        turns = conn.execute("SELECT turn, parent, branch FROM af_history_turns ORDER BY turn").fetchall()
    finally:
        conn.close()
    # appends without a head line up into one chain: each turn continues the one before, on one branch
    assert turns == [(n, n - 1 if n > 1 else None, 1) for n in range(1, 2001)]


@pytest.mark.slow
@pytest.mark.asyncio
async def test_processes_replaying_the_same_turns_store_each_item_once(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await asyncio.to_thread(run_workers, path, ["same", "same", "same"], 200)
    async with SQLiteHistoryStore(path) as store:
        ids = [item["id"] for item in await store.load(SessionKey("shared", user="u", chat="c"))]
    assert ids == [f"msg_same-{n}{r}" for n in range(200) for r in "ua"]


@pytest.mark.asyncio
async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    key = SessionKey("s")
    async with SQLiteHistoryStore(tmp_path / "h.db") as one, SQLiteHistoryStore(tmp_path / "h.db") as two:
        await one.append(key, [make_item(1)])
        assert (await two.append(key, [make_item(1), make_item(2)])).stored == 1
        assert [i["id"] for i in await one.load(key)] == ["msg_1", "msg_2"]
        assert await two.delete(key) is True
        assert await one.load(key) == []


@pytest.mark.asyncio
async def test_data_survives_reopening(tmp_path: Path) -> None:
    key = SessionKey("s", user="u")
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        await store.append(key, [make_item(1), make_item(2)])
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        assert [i["id"] for i in await store.load(key)] == ["msg_1", "msg_2"]
        assert [k async for k in store.list_sessions(user="u")] == [key]


def hold_write_lock(path: Path, release: threading.Event, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_append_waits_for_a_lock_released_within_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, busy_timeout=20) as store:
        release, held = threading.Event(), threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(path, release, held))
        holder.start()
        try:
            assert held.wait(10)
            pending = asyncio.ensure_future(store.append(SessionKey("s"), [make_item(1)]))
            await asyncio.sleep(0.2)
            assert not pending.done()  # it is waiting for the lock, not failing
            release.set()
            assert (await pending).stored == 1
        finally:
            release.set()
            holder.join()


@pytest.mark.asyncio
async def test_lock_held_past_the_busy_timeout_raises_a_clear_error_and_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    key = SessionKey("s")
    async with SQLiteHistoryStore(path, busy_timeout=0.2) as store:
        release, held = threading.Event(), threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(path, release, held))
        holder.start()
        try:
            assert held.wait(10)
            with pytest.raises(DatabaseLockedError, match="busy_timeout"):
                await store.append(key, [make_item(1)])
        finally:
            release.set()
            holder.join()
        assert await store.load(key) == []
        assert (await store.append(key, [make_item(1)])).stored == 1


@pytest.mark.asyncio
async def test_close_lets_appends_already_started_finish(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    key = SessionKey("s")
    store = SQLiteHistoryStore(path)
    results = await asyncio.gather(*(store.append(key, [make_item(n)]) for n in range(20)), store.aclose())
    assert [r.stored for r in results[:20]] == [1] * 20
    async with SQLiteHistoryStore(path) as reopened:
        assert [i["id"] for i in await reopened.load(key)] == [f"msg_{n}" for n in range(20)]


def test_one_store_used_from_several_threads_and_event_loops(tmp_path: Path) -> None:
    store = SQLiteHistoryStore(tmp_path / "h.db")
    key = SessionKey("threads")

    def worker(n: int) -> None:
        async def run() -> None:
            for i in range(50):
                await store.append(key, [make_item(f"{n}-{i}")])

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def finish() -> list[str]:
        try:
            return [i["id"] for i in await store.load(key)]
        finally:
            await store.aclose()

    ids = asyncio.run(finish())
    assert sorted(ids) == sorted(f"msg_{n}-{i}" for n in range(4) for i in range(50))
    for n in range(4):
        assert [i for i in ids if i.startswith(f"msg_{n}-")] == [f"msg_{n}-{i}" for i in range(50)]
