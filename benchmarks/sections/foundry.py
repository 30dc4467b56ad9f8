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
    hosted = result["hosted"]
    ctx.report.notes.append(
        f"foundry hosted mode (host_stores, {turns} agent turns; the host writes each turn, as ResponsesHostServer "
        f"does in a container): the history store's writes per turn max {max(hosted['store_writes'])}, reads per "
        f"turn max {max(hosted['store_reads'])}; the host's writes per turn max {max(hosted['host_writes'])}"
    )
    ctx.report.checks.append(
        Check("foundry hosted: history store writes per turn (max)", max(hosted["store_writes"]), 0, "requests")
    )
    ctx.report.checks.append(
        Check("foundry hosted: history store reads per turn (max)", max(hosted["store_reads"]), 2, "requests")
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
            report["hosted"] = await _hosted_pass(fake, turns)
        finally:
            await store.aclose()
    return report


async def _hosted_pass(fake: Any, turns: int) -> dict[str, list[int]]:
    """Turns served the way a Foundry container serves them: the host stores each turn, the store only reads.

    The host is played here: it publishes its request (platform context, response-id baggage) and
    writes its response (input, output, the earlier chain) with its own ``FoundryStorageProvider``.
    """
    from agent_framework import Message
    from azure.ai.agentserver.core import FoundryAgentRequestContext, reset_request_context, set_request_context
    from azure.ai.agentserver.responses import FoundryStorageProvider, FoundryStorageSettings, PlatformContext
    from azure.ai.agentserver.responses._id_generator import IdGenerator
    from opentelemetry import baggage
    from opentelemetry import context as otel_context

    from agent_framework_history import HistoryStoreProvider
    from agent_framework_history_foundry import open_foundry_store
    from agent_framework_history_foundry.testing import StaticTokenCredential

    settings = FoundryStorageSettings.from_endpoint(fake.endpoint)
    counts: dict[str, list[int]] = {"store_writes": [], "store_reads": [], "host_writes": []}
    async with (
        open_foundry_store(fake.host_url, credential=StaticTokenCredential("store"), host_stores=True) as store,
        FoundryStorageProvider(StaticTokenCredential("host"), settings=settings) as host,
    ):
        provider = HistoryStoreProvider(store)
        state: dict[str, Any] = {}
        previous: str | None = None
        for n in range(turns):
            response_id = IdGenerator.new_response_id(previous or "")
            before = len(fake.requests)
            platform = set_request_context(FoundryAgentRequestContext(user_id="bench", call_id=f"hosted-{n}"))
            attached = otel_context.attach(baggage.set_baggage("azure.ai.agentserver.response_id", response_id))
            try:
                await provider.get_messages(f"{SESSION}-hosted", state=state)
                await provider.save_messages(
                    f"{SESSION}-hosted",
                    [Message("user", [f"question {n}"]), Message("assistant", [f"answer {n}"])],
                    state=state,
                )
            finally:
                otel_context.detach(attached)
                reset_request_context(platform)
            context = PlatformContext(user_id_key="bench", call_id=f"hosted-{n}")
            history = await host.get_history_item_ids(previous, None, -1, context=context) if previous else []
            question = {
                "type": "message",
                "id": IdGenerator.new_id("msg", response_id),
                "role": "user",
                "content": [{"type": "input_text", "text": f"question {n}"}],
            }
            answer = {
                "type": "message",
                "id": IdGenerator.new_id("msg", response_id),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": f"answer {n}", "annotations": []}],
            }
            response: dict[str, Any] = {
                "id": response_id,
                "object": "response",
                "status": "completed",
                "created_at": 0,
                "output": [answer],
                "background": False,
                "parallel_tool_calls": False,
                "instructions": "",
            }
            if previous:
                response["previous_response_id"] = previous
            await host.create_response(response, [question], history, context=context)  # type: ignore[arg-type]
            spent = fake.requests[before:]
            ours = [r for r in spent if r.headers.get("Authorization") == "Bearer store"]
            counts["store_writes"].append(sum(r.operation == "create" for r in ours))
            counts["store_reads"].append(sum(r.operation in ("history", "items", "get_response") for r in ours))
            counts["host_writes"].append(sum(r.operation == "create" and r not in ours for r in spent))
            previous = response_id
    return counts


if __name__ == "__main__" and sys.argv[1:2] == ["--wire"]:
    print(json.dumps(asyncio.run(_wire(int(sys.argv[2])))))
