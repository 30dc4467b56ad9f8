"""Another process for the conformance kit: ``python -m agent_framework_history.testing._child JSON``.

``JSON`` names a store (``{"target": ..., "options": {...}}``, opened with ``open_store``) and a list of
operations run in order: ``{"op": "append", "key": [session_id, user, chat], "items": [...], "head": ...}``
or ``{"op": "delete", "key": [...]}``. Prints a JSON list with each append's head and each delete's result.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from .._keys import SessionKey
from .._selector import open_store


async def _run(spec: dict[str, Any]) -> list[Any]:
    results: list[Any] = []
    async with open_store(spec["target"], **spec.get("options", {})) as store:
        for op in spec["ops"]:
            session_id, user, chat = op["key"]
            key = SessionKey(session_id, user=user, chat=chat)
            if op["op"] == "append":
                results.append((await store.append(key, op["items"], head=op.get("head"))).head)
            elif op["op"] == "delete":
                results.append(await store.delete(key))
            else:
                raise ValueError(f"unknown operation {op['op']!r}")
    return results


def main() -> None:
    print(json.dumps(asyncio.run(_run(json.loads(sys.argv[1])))))


if __name__ == "__main__":
    main()
