"""NaN and ±Infinity, which agent-framework keeps in messages: saved, loaded, migrated and exported exactly."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from agent_framework import Content, FileHistoryProvider, Message

from agent_framework_history import HistoryStore, HistoryStoreProvider, SessionKey, open_store
from agent_framework_history.conversion import to_messages

from ._stores import BACKENDS, open_backend
from .test_cli import invoke


def nonfinite_messages() -> list[Message]:
    call = Content.from_function_call(
        call_id="c1", name="measure", arguments={"low": float("-inf"), "high": float("inf"), "mean": float("nan")}
    )
    return [
        Message("user", ["measure it"], message_id="u1", additional_properties={"score": float("nan")}),
        Message("assistant", [call], message_id="a1", additional_properties={"bounds": [float("-inf"), 1.5]}),
        Message("tool", [Content.from_function_result(call_id="c1", result={"v": float("inf")})], message_id="t1"),
        Message("assistant", ["NaN and Infinity, as words"], message_id="a2"),
    ]


def exact(messages: list[Message]) -> str:
    """The messages as JSON text that tells NaN from "NaN" (agent-framework's own ``to_dict``)."""
    return json.dumps([m.to_dict() for m in messages], allow_nan=True, ensure_ascii=False)


@pytest_asyncio.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    opened = open_backend(request.param, tmp_path)
    yield opened
    await opened.aclose()


@pytest.mark.asyncio
async def test_the_provider_saves_and_loads_nan_and_infinity_exactly(store: HistoryStore) -> None:
    provider = HistoryStoreProvider(store, user="nan-user")
    state: dict[str, Any] = {}
    await provider.save_messages("s", nonfinite_messages(), state=state)  # no ValueError after the model answered
    loaded = await provider.get_messages("s", state=state)
    assert exact(loaded) == exact(nonfinite_messages())
    assert math.isnan(loaded[0].additional_properties["score"])
    arguments = loaded[1].contents[0].arguments
    assert isinstance(arguments, dict) and arguments["high"] == float("inf") and math.isnan(arguments["mean"])
    key = SessionKey("s", user="nan-user")
    assert await store.load(key, limit=1) == (await store.load(key))[-1:]


def test_a_file_history_with_nan_migrates_and_exports_exactly(tmp_path: Path) -> None:
    directory = tmp_path / "file-history"
    asyncio.run(FileHistoryProvider(directory).save_messages("s", nonfinite_messages()))  # it stores them
    url = f"file-history://{directory}"
    result = invoke("migrate", "--from", url, "--to", f"sqlite:///{tmp_path}/h.db")
    assert result.exit_code == 0, result.stderr

    async def loaded(target: str) -> list[Message]:
        async with open_store(target) as opened:  # the anonymous partition the CLI wrote, whatever a host bound
            return to_messages(await opened.load(SessionKey("s")))

    assert exact(asyncio.run(loaded(f"sqlite:///{tmp_path}/h.db"))) == exact(nonfinite_messages())

    exported = invoke("export", f"sqlite:///{tmp_path}/h.db", "--all", "-o", str(tmp_path / "out.jsonl"))
    assert exported.exit_code == 0, exported.stderr
    text = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    for line in text.splitlines():
        json.loads(line, parse_constant=lambda word: pytest.fail(f"the export holds the non-JSON word {word}"))
    imported = invoke("import", f"jsonl://{tmp_path}/copy", str(tmp_path / "out.jsonl"))
    assert imported.exit_code == 0, imported.stderr
    assert exact(asyncio.run(loaded(f"jsonl://{tmp_path}/copy"))) == exact(nonfinite_messages())
