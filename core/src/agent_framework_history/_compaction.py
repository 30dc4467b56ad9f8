"""Durable compaction: what agent-framework's ``CompactionProvider`` made of the loaded history, kept.

A ``CompactionProvider`` with a ``before_strategy`` (``SummarizationStrategy``, ``SlidingWindowStrategy``…)
rewrites the history ``HistoryStoreProvider`` loaded, for one run. This module stores the result in the
chain as a *compaction record*, so the next run loads from the latest record on instead of compacting
the whole history again, while every earlier item stays in the store (``show``, ``export``).

A record is appended as its own turn, right before the run's own messages:

- a marker item ``{"type": "af_compaction", "id": "cmp_<hex>", "items": k, "keep_from": <item id>}``;
- ``k`` items: the messages of the compacted history that are not a run of stored items (the summary
  message, messages kept from before an earlier record, preserved system messages), written by
  ``to_items`` with their item ids prefixed ``<record id>/`` (their ``message_id`` is unchanged);
- ``keep_from`` (optional): the id of the first stored item of the run of messages the compaction kept
  unchanged at the end of the history; those are not copied.

Loading at head ``H`` gives: the ``k`` items, then the stored items from ``keep_from`` up to the marker
(markers skipped), then the items after the record. Reading stops at the latest marker, so a load costs
the size of the compacted history, not of the transcript.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

from agent_framework import Message

from ._keys import SessionKey
from ._store import AppendResult, HistoryStore, Item
from ._windows import window_start
from .conversion import to_items
from .conversion._format import message_part

__all__ = [
    "COMPACTION_STATE_KEY",
    "MARKER_TYPE",
    "LoadedView",
    "compaction_record",
    "forget_guess",
    "guess_of",
    "holds_no_record",
    "kept_run",
    "load_view",
    "note_saved",
    "set_guess",
]

MARKER_TYPE: Final = "af_compaction"
"""Item type of the marker that starts a compaction record."""

COMPACTION_STATE_KEY: Final = "compaction"
"""Key, in the provider's slot of ``AgentSession.state``, of the compacted chains: per partition tag,
how many items the last load read (plus those saved since), the first read of the next load. A
partition without an entry has no record the provider wrote, and loads as before (one read)."""

_GROWTH: Final = 4

_GUESS_SLACK: Final = 16
"""Items a compacted chain's first read takes beyond the guess (turns saved since may have grown it)."""

RECORD_PREFIX: Final = "cmp_"
"""Start of a record's id; its copies' ids are ``<record id>/<item id>``."""


@dataclass
class LoadedView:
    """What the provider loaded: the items, and which of their messages may be kept by reference."""

    items: list[Item]
    plain_ids: frozenset[str] = field(default_factory=frozenset[str])
    """Message ids of the view's stored run: messages a next record may keep by ``keep_from``."""
    span: int = 0
    """How many stored items, counted back from the head, the view reaches (its first read next time)."""
    compacted: bool = False
    """Whether the view starts at a compaction record."""


def _message_id(item: Item) -> str | None:
    part = message_part(item)
    value = part.message_id if part is not None else item.get("id")
    return value if isinstance(value, str) else None


def _ids_of(items: Sequence[Item]) -> frozenset[str]:
    return frozenset(m for item in items if (m := _message_id(item)) is not None)


def _is_copy(item: Item) -> bool:
    item_id = item.get("id")
    return isinstance(item_id, str) and item_id.startswith(RECORD_PREFIX) and "/" in item_id


def _latest_marker(items: Sequence[Item]) -> int | None:
    for index in range(len(items) - 1, -1, -1):
        if items[index].get("type") == MARKER_TYPE:
            return index
    return None


def holds_no_record(items: Sequence[Item]) -> bool:
    """Whether ``items`` hold no compaction marker (a chain read whole is then the history as stored)."""
    return all(item.get("type") != MARKER_TYPE for item in items)


def _count(marker: Item) -> int:
    value = marker.get("items")
    return value if type(value) is int and value >= 0 else 0


def _compose(items: list[Item], marker_at: int, *, complete: bool) -> tuple[list[Item], int, int] | None:
    """The view for the latest record at ``marker_at``, where its stored run starts and how far back it
    reaches in ``items``; ``None``: read more."""
    marker = items[marker_at]
    count = _count(marker)
    copies = items[marker_at + 1 : marker_at + 1 + count]
    after = items[marker_at + 1 + count :]
    keep_from = marker.get("keep_from")
    kept: list[Item] = []
    reach = marker_at
    if isinstance(keep_from, str):
        start = next((i for i in range(marker_at - 1, -1, -1) if items[i].get("id") == keep_from), None)
        if start is None and not complete:
            return None
        if start is not None:  # a lost target (a damaged store) keeps what the record holds
            kept = _without_markers(items[start:marker_at])
            reach = start
    view = [*copies, *kept, *after]
    return view, (0 if not copies else len(copies) + len(kept)), len(items) - reach


def _without_markers(items: list[Item]) -> list[Item]:
    kept: list[Item] = []
    skip = 0
    for item in items:
        if skip:
            skip -= 1
            continue
        if item.get("type") == MARKER_TYPE:
            skip = _count(item)
            continue
        kept.append(item)
    return kept


async def load_view(
    store: HistoryStore, key: SessionKey, *, limit: int | None, head: str | None, guess: int | None
) -> LoadedView:
    """Load the history from the latest compaction record on (all of it when there is none).

    ``guess`` (from the session state) is how many items to read first; ``None`` reads everything
    at once (a chain without records costs what it did). With ``limit``, the latest ``limit`` items
    of the compacted history, grown back to a valid start as ``HistoryStore.load`` does.
    """
    fetch: int | None = limit if limit is not None else (None if guess is None else guess + _GUESS_SLACK)
    while True:
        items = await store.load(key, limit=fetch, head=head)
        complete = fetch is None or len(items) < fetch
        marker_at = _latest_marker(items)
        if marker_at is None:
            # With a limit, the latest items make the view unless they hold a record's copies (whose
            # marker, just before them, was not read: the view puts them before the kept run).
            if complete or (limit is not None and not any(_is_copy(item) for item in items)):
                return LoadedView(items, _ids_of(items), len(items))
        elif (composed := _compose(items, marker_at, complete=complete)) is not None:
            view, plain, span = composed
            if limit is not None and len(view) > limit:
                start = window_start(view, limit, complete=True)
                if start:
                    view, plain = view[start:], max(0, plain - start)
            return LoadedView(view, _ids_of(view[plain:]), span, compacted=True)
        fetch = (fetch or 1) * _GROWTH


def kept_run(loaded: Sequence[Message], compacted: Sequence[Message], plain_ids: frozenset[str]) -> int:
    """How many messages at the end of ``compacted`` are the last ones ``loaded`` (the same objects)
    and stored as one run (``plain_ids``): those a record keeps by reference instead of copying."""
    kept = 0
    while (
        kept < len(compacted)
        and kept < len(loaded)
        and compacted[-1 - kept] is loaded[-1 - kept]
        and (message_id := compacted[-1 - kept].message_id) is not None
        and message_id in plain_ids
    ):
        kept += 1
    return kept


def _as_stored(message: Message, source_id: str) -> Message:
    """The message as the store gave it: without the attribution the run's context added."""
    properties = dict(message.additional_properties or {})
    attribution = properties.get("_attribution")
    if isinstance(attribution, dict) and cast(dict[str, Any], attribution).get("source_id") == source_id:
        rest = {k: v for k, v in cast(dict[str, Any], attribution).items() if k not in ("source_id", "source_type")}
        if rest:
            properties["_attribution"] = rest
        else:
            del properties["_attribution"]
    return Message(
        message.role,
        list(message.contents),
        author_name=message.author_name,
        message_id=message.message_id,
        additional_properties=properties,
    )


def compaction_record(compacted: Sequence[Message], kept: int, source_id: str) -> list[Item]:
    """The items of a record for the compacted history whose last ``kept`` messages stay stored."""
    record_id = f"{RECORD_PREFIX}{uuid.uuid4().hex}"
    copied = [_as_stored(m, source_id) for m in compacted[: len(compacted) - kept]]
    copies = to_items(copied)
    for item in copies:
        item["id"] = f"{record_id}/{item['id']}"
    marker: Item = {"type": MARKER_TYPE, "id": record_id, "items": len(copies)}
    if kept:
        first = compacted[len(compacted) - kept].message_id
        assert first is not None  # kept_run counts only messages with ids
        marker["keep_from"] = first
    return [marker, *copies]


def guess_of(state: dict[str, Any] | None, tag: str) -> int | None:
    """The first read for a compacted chain's next load (``None``: no record, read everything)."""
    if state is None:
        return None
    entries = state.get(COMPACTION_STATE_KEY)
    value = cast(dict[str, Any], entries).get(tag) if isinstance(entries, dict) else None
    return value if type(value) is int and value > 0 else None


def set_guess(state: dict[str, Any], tag: str, value: int) -> None:
    entries = state.get(COMPACTION_STATE_KEY)
    if not isinstance(entries, dict):
        entries = state[COMPACTION_STATE_KEY] = {}
    cast(dict[str, Any], entries)[tag] = max(1, value)


def forget_guess(state: dict[str, Any], tag: str) -> None:
    entries = state.get(COMPACTION_STATE_KEY)
    if isinstance(entries, dict):
        cast(dict[str, Any], entries).pop(tag, None)


def note_saved(state: dict[str, Any] | None, tag: str, result: AppendResult) -> None:
    """A save on a compacted chain makes its next first read that much longer."""
    if state is not None and (guess := guess_of(state, tag)) is not None:
        set_guess(state, tag, guess + result.stored)
