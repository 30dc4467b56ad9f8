"""Appends that find every pooled connection busy go to the server together.

With at most ``limit`` appends in flight (the pool's size), an append that arrives while all
are busy waits in a queue; whenever one finishes, everything queued by then (up to
``most`` appends) is sent as one statement — one round trip, one transaction, one WAL flush
for all of them — instead of one after another. So throughput keeps rising with the number of
concurrent writers after the pool is saturated, where sending each append on its own would
only lengthen the queue. An append that finds a connection free is sent at once, alone: no
latency is added when the pool is not saturated.

A batch is ordered by session key (stable, so appends to one session keep their order), so
two batches lock the sessions they share in the same order and cannot deadlock. If a batch
fails, its appends are sent again one by one, so each caller gets its own result or error;
every append carries the head its turn will get, so one whose batch committed before the
failure was reported is recognised by the server and reported, not stored twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher"]

A = TypeVar("A")
R = TypeVar("R")


class Batcher(Generic[A, R]):
    """Runs ``send_one(args)`` calls, at most ``limit`` at a time, and groups the overflow for ``send_many``."""

    def __init__(
        self,
        send_one: Callable[[A], Awaitable[R]],
        send_many: Callable[[Sequence[A]], Awaitable[Sequence[R]]],
        *,
        limit: int,
        most: int,
        order: Callable[[A], tuple[str, ...]],
    ) -> None:
        self._send_one = send_one
        self._send_many = send_many
        self._limit = limit
        self._most = most
        self._order = order
        self._queue: deque[tuple[A, asyncio.Future[R]]] = deque()
        self._active = 0
        self._drains: set[asyncio.Task[None]] = set()

    async def run(self, args: A) -> R:
        if self._active < self._limit and not self._queue:
            self._active += 1
            try:
                return await self._send_one(args)
            finally:
                self._active -= 1
                self._start_drains()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((args, future))
        self._start_drains()
        return await future

    def _start_drains(self) -> None:
        while self._queue and self._active < self._limit:
            self._active += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch: list[tuple[A, asyncio.Future[R]]] = []
                while self._queue and len(batch) < self._most:
                    entry = self._queue.popleft()
                    if not entry[1].done():  # a caller that stopped waiting before its turn was sent
                        batch.append(entry)
                if batch:
                    await self._send(batch)
        finally:
            self._active -= 1
            if self._queue:
                self._start_drains()

    async def _send(self, batch: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            if len(batch) > 1:
                batch.sort(key=lambda entry: self._order(entry[0]))
                try:
                    results = await self._send_many([args for args, _ in batch])
                except Exception:  # each append is sent again alone, and gets its own outcome
                    pass
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
                    return
            for args, future in batch:
                try:
                    result = await self._send_one(args)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise

    async def aclose(self, error: Callable[[], BaseException]) -> None:
        """Fail the calls still queued with ``error()``; wait for the batches already under way to finish."""
        while self._queue:
            _, future = self._queue.popleft()
            if not future.done():
                future.set_exception(error())
        drains = list(self._drains)
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)
