"""Writers in separate processes on one session: every item lands once, in one order every reader agrees on."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agent_framework_history_postgres import PostgresHistoryStore, open_postgres_store

from ._writer import KEY

WRITER = Path(__file__).with_name("_writer.py")
PROCESSES = 4
TURNS = 500
_ID = re.compile(r"^w(\d+)-(\d+)([ua])$")


def _check_whole_turns_in_writer_order(ids: list[str]) -> dict[int, int]:
    """Assert ``ids`` is whole turns, each writer's turns numbered 0, 1, 2… in order; returns turns per writer."""
    assert len(ids) % 2 == 0, f"a half turn is visible: {ids[-3:]}"
    next_turn: dict[int, int] = {}
    for position in range(0, len(ids), 2):
        first, second = _ID.match(ids[position]), _ID.match(ids[position + 1])
        assert first and second, ids[position : position + 2]
        writer, n = int(first[1]), int(first[2])
        assert (first[3], second[3]) == ("u", "a") and (int(second[1]), int(second[2])) == (writer, n), (
            f"turn split at {position}: {ids[position : position + 2]}"
        )
        assert n == next_turn.get(writer, 0), f"writer {writer}: turn {n} where {next_turn.get(writer, 0)} was due"
        next_turn[writer] = n + 1
    return next_turn


async def _spawn(dsn: str, schema: str, writer: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        dsn,
        schema,
        str(writer),
        str(TURNS),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.asyncio
async def test_four_processes_appending_to_one_session_land_every_item_once_in_one_order(
    dsn: str, schema: str, admin: asyncpg.Connection[Any]
) -> None:
    reader: PostgresHistoryStore = open_postgres_store(dsn, schema=schema)
    await reader.connect()
    writers = [await _spawn(dsn, schema, w) for w in range(PROCESSES)]
    try:
        for proc in writers:
            assert proc.stdout is not None
            assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"ready\n"
        for proc in writers:  # all start together
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()

        # Read while they write: every snapshot is whole turns in each writer's order, and
        # extends the one before (no reader ever sees an item that a later reader sees elsewhere).
        snapshots: list[list[str]] = []
        while any(proc.returncode is None for proc in writers):
            snapshots.append([item["id"] for item in await reader.load(KEY)])
            await asyncio.sleep(0.01)
        outputs = [await asyncio.wait_for(proc.communicate(), 120) for proc in writers]
        assert [proc.returncode for proc in writers] == [0] * PROCESSES
        assert [out.strip() for out, _ in outputs] == [f"done {2 * TURNS}".encode()] * PROCESSES

        final = [item["id"] for item in await reader.load(KEY)]
        assert len(final) == PROCESSES * TURNS * 2 == len(set(final))
        assert _check_whole_turns_in_writer_order(final) == dict.fromkeys(range(PROCESSES), TURNS)
        writer_changes = sum(final[i][:3] != final[i - 2][:3] for i in range(2, len(final), 2))
        assert writer_changes > PROCESSES, "the writers ran one after another, not at the same time"

        assert len(snapshots) > 1
        for snapshot in snapshots:
            _check_whole_turns_in_writer_order(snapshot)
            assert snapshot == final[: len(snapshot)], "a reader saw an order the final history does not have"

        latest = [item["id"] for item in await reader.load(KEY, limit=50)]
        assert latest == final[-50:]
        seqs = await admin.fetch(f"SELECT seq FROM {reader.names.items} ORDER BY seq")
        assert [row["seq"] for row in seqs] == list(range(1, len(final) + 1))
        # With no head given, every append continued the latest turn: one linear chain, one branch.
        turns = await admin.fetch(f"SELECT turn, parent, branch FROM {reader.names.turns} ORDER BY turn")
        assert len(turns) == PROCESSES * TURNS
        assert [(r["parent"], r["branch"]) for r in turns] == [(r["turn"] - 1 or None, 1) for r in turns]
    finally:
        for proc in writers:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await reader.aclose()
