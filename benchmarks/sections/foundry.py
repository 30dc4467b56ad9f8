"""The foundry backend: per-turn request counts on the wire, and its cost over the SDK's in-memory provider.

Request counts come from the loopback HTTPS fake of the storage API, driven through the real
``FoundryStorageProvider``. That runs in a child process (this file with ``--wire``), because the
fake's throwaway CA must be trusted through ``SSL_CERT_FILE`` before aiohttp is first imported.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAME = "foundry"
WIRE_TURNS = 60
SESSION = "bench-foundry"


def target(tmp: Path) -> str | None:
    return None  # the shared workload cannot reach Foundry; run() measures this backend instead


async def _in_memory_row(turns: int) -> Any:
    """The shared workload's shape through HistoryStoreProvider, over the SDK's InMemoryResponseProvider."""
    from _harness import best_of
    from azure.ai.agentserver.responses import InMemoryResponseProvider
    from workloads import SESSION as WORKLOAD_SESSION
    from workloads import run_provider

    from agent_framework_history import HistoryStoreProvider
    from agent_framework_history_foundry import open_foundry_store

    store = open_foundry_store("foundry://", response_provider=InMemoryResponseProvider())
    try:
        row = await run_provider("foundry (SDK in-memory provider)", "backend", HistoryStoreProvider(store), turns)
        limited = HistoryStoreProvider(store, limit=20)  # no head in state: the store remembers the session's head
        row.load_20_s = await best_of(5, lambda: limited.get_messages(WORKLOAD_SESSION, state={}))
        return row
    finally:
        await store.aclose()


async def run(ctx: Any) -> None:
    from _harness import Check, Row

    ctx.report.rows.append(await _in_memory_row(ctx.turns))
    try:
        import trustme  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError:
        ctx.report.notes.append("foundry: trustme is not installed, so the wire-level request counts were not measured")
        return
    turns = min(ctx.turns, WIRE_TURNS)
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, __file__, "--wire", str(turns)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if child.returncode != 0:
        raise RuntimeError(f"foundry wire benchmark failed:\n{child.stdout}\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    for label, counts in (("no limit", result["full"]), ("limit=20", result["limited"])):
        writes, reads = counts["writes"], counts["reads"]
        ctx.report.notes.append(
            f"foundry wire ({label}, {turns} agent turns, loopback HTTPS fake): writes per turn "
            f"max {max(writes)} mean {sum(writes) / len(writes):.2f}; reads per turn max {max(reads)} "
            f"mean {sum(reads) / len(reads):.2f}; requests by kind {counts['by_kind']}"
        )
        ctx.report.checks.append(Check(f"foundry writes per turn ({label}, max)", max(writes), 1, "requests"))
        ctx.report.checks.append(Check(f"foundry reads per turn ({label}, max)", max(reads), 2, "requests"))
    ctx.report.rows.append(
        Row(
            "foundry (loopback HTTPS fake)",
            "backend",
            turns,
            result["append_s"],
            load_all_s=result["load_all_s"],
            load_20_s=result["load_20_s"],
            note="µs / turn is the save of each turn (each turn also loaded first), TLS on 127.0.0.1",
        )
    )
    ctx.report.notes.append(
        f"foundry: create_response body at turn {turns} is {result['last_create_bytes']} bytes "
        "(it carries the whole earlier chain's ids, as the service requires)"
    )


# -- child process: the loopback HTTPS fake --------------------------------------------------


async def _wire(turns: int) -> dict[str, Any]:
    from agent_framework_history_foundry.testing import install_test_ca

    tls = install_test_ca()  # before aiohttp is imported
    from agent_framework import Message

    from agent_framework_history import HistoryStoreProvider, bind_request_context
    from agent_framework_history_foundry import open_foundry_store
    from agent_framework_history_foundry.testing import FakeFoundryStorage, StaticTokenCredential

    async with FakeFoundryStorage(tls) as fake:
        store = open_foundry_store(fake.host_url, credential=StaticTokenCredential())
        report: dict[str, Any] = {}
        try:
            for label, limit in (("full", None), ("limited", 20)):
                provider = HistoryStoreProvider(store, limit=limit)
                state: dict[str, Any] = {}
                writes: list[int] = []
                reads: list[int] = []
                before_all = fake.counts()
                saving = 0.0
                for n in range(turns):
                    before = fake.counts()
                    with bind_request_context(user="bench", call_id=f"call-{label}-{n}"):
                        await provider.get_messages(f"{SESSION}-{label}", state=state)
                        started = time.perf_counter()
                        await provider.save_messages(
                            f"{SESSION}-{label}",
                            [Message("user", [f"question {n}"]), Message("assistant", [f"answer {n}"])],
                            state=state,
                        )
                        saving += time.perf_counter() - started
                    spent = fake.counts() - before
                    writes.append(spent["create"])
                    reads.append(spent["history"] + spent["items"] + spent["get_response"])
                report[label] = {
                    "writes": writes,
                    "reads": reads,
                    "by_kind": dict(fake.counts() - before_all),
                }
                if label == "full":
                    report["append_s"] = saving
                    full_state = dict(state)
                    started = time.perf_counter()
                    await HistoryStoreProvider(store).get_messages(f"{SESSION}-full", state=dict(full_state))
                    report["load_all_s"] = time.perf_counter() - started
                    started = time.perf_counter()
                    await HistoryStoreProvider(store, limit=20).get_messages(f"{SESSION}-full", state=dict(full_state))
                    report["load_20_s"] = time.perf_counter() - started
            report["last_create_bytes"] = len(json.dumps(fake.of("create")[turns - 1].body))
        finally:
            await store.aclose()
    return report


if __name__ == "__main__" and sys.argv[1:2] == ["--wire"]:
    print(json.dumps(asyncio.run(_wire(int(sys.argv[2])))))
