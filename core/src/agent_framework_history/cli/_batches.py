"""Appending a session's items in batches: what ``import`` and ``migrate`` both do."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from typing import Final

from .._keys import SessionKey
from .._store import HistoryStore, Item

__all__ = ["BATCH", "append_in_batches"]

BATCH: Final = 500
"""Items appended per ``append`` call."""


async def append_in_batches(
    store: HistoryStore,
    key: SessionKey,
    items: Iterable[Item],
    *,
    head: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, str | None]:
    """Append ``items`` to the chain ending at ``head``, :data:`BATCH` at a time, each batch continuing the last.

    Returns how many items were newly stored and the head of the chain after the last batch (``head`` itself
    when there was nothing to append). ``on_batch(n)`` is called after each batch of ``n`` items.
    """
    stored = 0
    pending = iter(items)
    while batch := list(islice(pending, BATCH)):
        result = await store.append(key, batch, head=head)
        head = result.head
        stored += result.stored
        if on_batch is not None:
            on_batch(len(batch))
    return stored, head
