"""``load(limit=N)`` reads backwards from the end; it must agree with a full load in every case."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_framework_history import SessionKey
from agent_framework_history.backend import dumps_item
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore

KEY = SessionKey("tail")

# A line: an item of some size (sizes around the 16 KiB first block and beyond), a corrupt line, or a blank line.
line = st.one_of(
    st.integers(0, 40_000).map(lambda size: ("item", size)),
    st.sampled_from([("corrupt", 0), ("blank", 0)]),
)


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(line, max_size=25),
    torn=st.sampled_from(["", '{"type":"message","id":"cut', dumps_item(make_item("whole"))]),
)
def test_tail_reads_agree_with_a_full_read(lines: list[tuple[str, int]], torn: str) -> None:
    text = ""
    for n, (kind, size) in enumerate(lines):
        if kind == "item":
            text += dumps_item(make_item(n, "t" * size)) + "\n"
        elif kind == "corrupt":
            text += "{oops " + "c" * (n * 997) + "\n"
        else:
            text += "\n"
    with tempfile.TemporaryDirectory() as tmp:
        store = JsonlHistoryStore(Path(tmp), on_corrupt="skip")
        path = store.path_for(KEY)
        path.parent.mkdir(parents=True)
        path.write_bytes((text + torn).encode())
        asyncio.run(_compare(store))


async def _compare(store: JsonlHistoryStore) -> None:
    everything = await store.load(KEY)
    for limit in range(1, len(everything) + 3):
        assert await store.load(KEY, limit=limit) == everything[-limit:]
