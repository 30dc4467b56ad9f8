"""A child process for the multi-process tests: ``python _worker.py MODE ROOT [ARGS]``.

Modes:
- ``turns ROOT WORKER TURNS``: wait for a line on stdin, then append TURNS turns (ids ``w<WORKER>-<n>u/a``).
- ``torn ROOT``: append 5 items, then start a sixth whose write stops halfway; print ``torn`` and hang.
- ``big ROOT``: append 512 KiB items, printing ``ok <n>`` after each, until killed (at most 200).
"""

from __future__ import annotations

import asyncio
import os
import sys

from agent_framework_history import SessionKey
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore, _io

KEY = SessionKey("shared", user="u", chat="c")


async def turns(root: str, worker: str, count: int) -> None:
    sys.stdin.readline()
    async with JsonlHistoryStore(root) as store:
        for n in range(count):
            turn = [make_item(f"w{worker}-{n}u"), make_item(f"w{worker}-{n}a", role="assistant")]
            result = await store.append(KEY, turn)
            assert result.stored == 2, result


async def torn(root: str) -> None:
    async with JsonlHistoryStore(root) as store:
        for n in range(5):
            await store.append(KEY, [make_item(n)])
        real = _io.write_all_sync

        def half_then_hang(fd: int, data: bytes) -> None:
            os.write(fd, data[: len(data) // 2])
            print("torn", flush=True)
            sys.stdin.readline()  # killed while here
            real(fd, data)

        _io.write_all_sync = half_then_hang
        await store.append(KEY, [make_item(5, "z" * 1000)])


async def big(root: str) -> None:
    async with JsonlHistoryStore(root) as store:
        for n in range(200):
            await store.append(KEY, [make_item(n, f"{n:08d}" * 65536)])
            print(f"ok {n}", flush=True)


if __name__ == "__main__":
    mode, root, *rest = sys.argv[1:]
    if mode == "turns":
        asyncio.run(turns(root, rest[0], int(rest[1])))
    elif mode == "torn":
        asyncio.run(torn(root))
    else:
        asyncio.run(big(root))
