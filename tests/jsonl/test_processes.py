"""Several processes on one session file, and a process killed in the middle of an append."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_framework_history import Capability, SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore

WORKER = str(Path(__file__).with_name("_worker.py"))
KEY = SessionKey("shared", user="u", chat="c")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(Capability.MULTI_PROCESS not in JsonlHistoryStore.CAPABILITIES, reason="no OS file locks"),
]


@pytest.fixture(autouse=True)
def _reap() -> Iterator[list[subprocess.Popen[str]]]:
    """Kill any child a failed test left running."""
    yield _children
    for child in _children:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
    _children.clear()


_children: list[subprocess.Popen[str]] = []


def spawn(*args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _children.append(child)
    return child


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.asyncio
async def test_four_processes_appending_500_turns_each_store_exactly_4000_items(tmp_path: Path) -> None:
    workers = [spawn("turns", str(tmp_path), str(w), "500") for w in range(4)]
    for worker in workers:  # all start together
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    async with JsonlHistoryStore(tmp_path) as store:
        items = await store.load(KEY)
        report = await store.check(KEY)
    assert report.ok and report.items == 4000
    markers = [
        json.loads(line)["af_turn"] for line in store.path_for(KEY).read_bytes().splitlines() if b"af_turn" in line
    ]
    assert len(markers) == 2000  # one turn per append, and the turns form one linear chain
    assert [m["parent"] for m in markers] == [None] + [m["head"] for m in markers[:-1]]
    ids = [item["id"] for item in items]
    assert len(ids) == 4000 and len(set(ids)) == 4000
    for w in range(4):  # each process's turns are whole and in its order
        own = [i for i in ids if i.startswith(f"msg_w{w}-")]
        assert own == [f"msg_w{w}-{n}{r}" for n in range(500) for r in "ua"]
        for n in range(500):
            at = ids.index(f"msg_w{w}-{n}u")
            assert ids[at + 1] == f"msg_w{w}-{n}a"


@pytest.mark.asyncio
async def test_process_killed_mid_write_loses_only_the_unfinished_append(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = spawn("torn", str(tmp_path))
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "torn"  # half of the sixth record is on disk
    kill(worker)
    async with JsonlHistoryStore(tmp_path) as store:
        report = await store.check(KEY)
        assert report.torn is not None and not report.torn.recoverable and report.items == 5
        with caplog.at_level(logging.WARNING, logger="agent_framework_history.jsonl"):
            assert [i["id"] for i in await store.load(KEY)] == [f"msg_{n}" for n in range(5)]
        assert "torn last line" in caplog.text
        assert (await store.append(KEY, [make_item(5), make_item(6)])).stored == 2
        assert [i["id"] for i in await store.load(KEY)] == [f"msg_{n}" for n in range(7)]
        assert (await store.check(KEY)).ok


@pytest.mark.asyncio
async def test_process_killed_while_appending_large_items_leaves_every_complete_record(tmp_path: Path) -> None:
    worker = spawn("big", str(tmp_path))
    assert worker.stdout is not None
    acknowledged = -1
    while acknowledged < 4:
        acknowledged = int(worker.stdout.readline().split()[1])
    kill(worker)
    async with JsonlHistoryStore(tmp_path) as store:
        items = await store.load(KEY)
        # every acknowledged append is there, whole; at most one more landed before the kill
        assert [i["id"] for i in items[: acknowledged + 1]] == [f"msg_{n}" for n in range(acknowledged + 1)]
        assert len(items) in (acknowledged + 1, acknowledged + 2)
        for n, item in enumerate(items):
            assert item["content"][0]["text"] == f"{n:08d}" * 65536
        assert (await store.append(KEY, [make_item("after")])).stored == 1
        assert [i["id"] for i in await store.load(KEY, limit=1)] == ["msg_after"]
        assert (await store.check(KEY)).ok
