"""What the store tells its operator: the exact warnings about torn and corrupt lines, and closed-store errors.

A warning is the only trace a repaired or skipped line leaves, so it must name the file, the line and
where the bytes were; these tests read the messages whole. Found by mutation testing: the earlier tests
looked at log levels only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent_framework_history import CorruptDataError, SessionKey, StoreClosedError
from agent_framework_history.backend import dumps_item
from agent_framework_history.testing import make_item
from agent_framework_history_jsonl import JsonlHistoryStore, _io

KEY = SessionKey("s1", user="alice")
LOGGER = "agent_framework_history.jsonl"


def item_line(n: int | str) -> str:
    return dumps_item(make_item(n))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records]


@pytest.mark.asyncio
async def test_an_append_after_a_whole_last_item_without_newline_says_which_line_got_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    write(path, item_line(0) + "\n" + item_line(1) + "\n" + item_line(2))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        result = await store.append(KEY, [make_item(3)])
    assert result.stored == 1
    assert messages(caplog) == [(logging.WARNING, f"{path}: line 3 lacked its newline; added it (the item is kept).")]
    assert [item["id"] for item in await store.load(KEY)] == ["msg_0", "msg_1", "msg_2", "msg_3"]


@pytest.mark.asyncio
async def test_an_append_after_a_torn_last_line_says_what_it_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    whole = item_line(0) + "\n" + item_line(1) + "\n"
    write(path, whole + '{"type":"mess')
    with caplog.at_level(logging.INFO, logger=LOGGER):
        await store.append(KEY, [make_item(2)])
    assert messages(caplog) == [
        (
            logging.WARNING,
            f"{path}: removed a torn last line (line 3, 13 bytes at offset {len(whole)}), "
            "left by a write interrupted by a crash.",
        )
    ]
    assert [item["id"] for item in await store.load(KEY)] == ["msg_0", "msg_1", "msg_2"]


@pytest.mark.parametrize("limit", [None, 5], ids=["whole-file", "tail"])
@pytest.mark.asyncio
async def test_a_load_says_where_a_torn_last_line_is_and_what_the_next_append_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, limit: int | None
) -> None:
    store = JsonlHistoryStore(tmp_path)
    whole, cut = SessionKey("whole"), SessionKey("cut")
    text = item_line(0) + "\n"
    write(store.path_for(whole), text + item_line(1))
    write(store.path_for(cut), text + '{"type":"mess')
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert len(await store.load(whole, limit=limit)) == 2
        assert len(await store.load(cut, limit=limit)) == 1
    assert messages(caplog) == [
        (logging.INFO, f"{store.path_for(whole)}: the last item lacks its newline; the next append adds it."),
        (
            logging.WARNING,
            f"{store.path_for(cut)}: skipped a torn last line (13 bytes at offset {len(text)}) left by an "
            "interrupted write; the next append removes it.",
        ),
    ]


@pytest.mark.parametrize("limit", [None, 10], ids=["whole-file", "tail"])
@pytest.mark.asyncio
async def test_a_skipped_corrupt_line_is_named_by_its_line_number_and_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, limit: int | None
) -> None:
    # A short corrupt line followed by several whole ones: an offset counted wrongly lands on another line.
    store = JsonlHistoryStore(tmp_path, on_corrupt="skip")
    path = store.path_for(KEY)
    lines = [item_line(0), item_line(1), "x!", item_line(3), item_line(4), item_line(5)]
    write(path, "".join(line + "\n" for line in lines))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        items = await store.load(KEY, limit=limit)
    assert [item["id"] for item in items] == ["msg_0", "msg_1", "msg_3", "msg_4", "msg_5"]
    assert len(caplog.records) == 1
    level, message = messages(caplog)[0]
    assert level == logging.WARNING
    assert message.startswith(f"{path}: skipped corrupt line 3 (")
    assert "None" not in message and message.endswith(").")


@pytest.mark.asyncio
async def test_a_tail_read_that_must_raise_names_the_newest_corrupt_line_it_met(tmp_path: Path) -> None:
    store = JsonlHistoryStore(tmp_path)  # on_corrupt="raise"
    path = store.path_for(KEY)
    lines = [item_line(0), "x!", item_line(2), "y?", item_line(4)]
    write(path, "".join(line + "\n" for line in lines))
    with pytest.raises(CorruptDataError) as raised:
        await store.load(KEY, limit=10)
    message = str(raised.value)
    assert message.startswith(f"{path}: line 4 is not a stored item (")
    assert "more such lines follow" not in message and "(None)" not in message
    with pytest.raises(CorruptDataError) as whole_file:
        await store.load(KEY)
    assert str(whole_file.value).startswith(f"{path}: line 2 is not a stored item (")
    assert "; 1 more such lines follow." in str(whole_file.value)


@pytest.mark.parametrize("extra", [1, 2, 3 * _io.FIRST_TAIL_BLOCK + 1], ids=["block+1", "block+2", "three-blocks+1"])
@pytest.mark.asyncio
async def test_a_tail_read_of_a_file_just_longer_than_its_blocks_keeps_the_first_line(
    tmp_path: Path, extra: int
) -> None:
    # The backward read stops at byte 0, not before: the first line is read whole wherever the blocks fall.
    store = JsonlHistoryStore(tmp_path)
    path = store.path_for(KEY)
    first = item_line(0)
    size = _io.FIRST_TAIL_BLOCK + extra
    filler = dumps_item(
        {"type": "message", "id": "msg_1", "role": "user", "content": [{"type": "input_text", "text": ""}]}
    )
    pad = size - (len(first) + 1) - (len(filler) + 1)
    assert pad > 0
    padded = filler.replace('"text":""', '"text":"' + "p" * pad + '"')
    write(path, first + "\n" + padded + "\n")
    assert path.stat().st_size == size
    items = await store.load(KEY, limit=5)
    assert [item["id"] for item in items] == ["msg_0", "msg_1"]
    assert items[0] == make_item(0)


@pytest.mark.parametrize("operation", ["check", "repair"])
@pytest.mark.asyncio
async def test_check_and_repair_after_aclose_name_the_operation(tmp_path: Path, operation: str) -> None:
    store = JsonlHistoryStore(tmp_path)
    await store.aclose()
    with pytest.raises(StoreClosedError, match=rf"^JsonlHistoryStore\.{operation}\(\) was called after aclose\(\)"):
        await getattr(store, operation)(KEY)
