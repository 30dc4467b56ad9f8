"""One writer process of the multi-process test: appends turns to one session on a cue.

Usage: python _writer.py DSN SCHEMA WRITER TURNS. Prints "ready" once connected, waits for a
line on stdin, appends TURNS turns (items ``w<WRITER>-<n>u`` / ``w<WRITER>-<n>a``) one after
another, then prints "done <stored>".
"""

from __future__ import annotations

import asyncio
import sys

from agent_framework_history import SessionKey
from agent_framework_history_postgres import open_postgres_store

KEY = SessionKey("shared", user="u", chat="c")


def turn(writer: int, n: int) -> list[dict[str, object]]:
    return [
        {"type": "message", "id": f"w{writer}-{n}u", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "message", "id": f"w{writer}-{n}a", "role": "assistant", "content": [{"type": "output_text"}]},
    ]


async def main(dsn: str, schema: str, writer: int, turns: int) -> None:
    async with open_postgres_store(dsn, schema=schema, pool_max_size=1) as store:
        await store.connect()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stored = 0
        for n in range(turns):
            stored += (await store.append(KEY, turn(writer, n))).stored
        print(f"done {stored}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
