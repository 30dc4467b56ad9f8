"""One writer process of the session-records race: reads a record, then writes it back on a cue.

Usage: python _session_writer.py DSN SCHEMA WRITER. Reads ``("race", "hot")``, prints "ready", waits for
a line on stdin, writes ``{"writer": WRITER}`` expecting the version it read, then prints "won <version>"
or "lost".
"""

from __future__ import annotations

import asyncio
import sys

from agent_framework_history import SessionConflictError
from agent_framework_history_postgres._hosting import open_postgres_session_records


async def main(dsn: str, schema: str, writer: int) -> None:
    records = open_postgres_session_records(dsn, schema=schema, pool_max_size=1)
    try:
        found = await records.read("race", "hot")
        assert found is not None, "the test writes the record first"
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        try:
            version = await records.write("race", "hot", {"writer": writer}, found[1])
        except SessionConflictError:
            print("lost", flush=True)
        else:
            print(f"won {version}", flush=True)
    finally:
        await records.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
