"""A connection pool that serves waiting requests in the order they came.

SQLAlchemy's asyncio pool queues waiters on an `asyncio.Queue`, whose `get` lets a
newcomer take a returned connection before the waiter it was meant for wakes; the
waiter then finds the queue empty and joins the back of the line. Under load (64
connections on one worker, 20 pooled) a few requests waited many turns: the
session check's p99 was four times its median. Here a returned connection is
handed straight to the longest waiter, so it is never there for a newcomer to take.

A waiter is also woken when a place in the pool comes free without a connection
coming back: one that could not be opened. SQLAlchemy would leave it waiting for the
whole pool timeout; woken, it opens a connection itself. So while the database is
down each request fails as fast as its own connection attempt, however many wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Literal, cast

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty


class FairQueue(AsyncAdaptedQueue[ConnectionPoolEntry]):
    """First come, first served: returned items go to waiters before the shelf."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[ConnectionPoolEntry]] = deque()

    def put_nowait(self, item: ConnectionPoolEntry) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def make_room(self) -> None:
        """A place came free: the longest waiter stops waiting for a returned connection
        and, woken by `Empty`, opens one of its own (`QueuePool._do_get`)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Empty())
                return

    def get(self, block: bool = True, timeout: float | None = None) -> ConnectionPoolEntry:
        # Idle connections wait here only while nobody waits for one (`put_nowait`).
        try:
            return self.get_nowait()
        except Empty:
            if not block:
                raise
        waiter: asyncio.Future[ConnectionPoolEntry] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return await_(self._wait(waiter, timeout))

    async def _wait(
        self, waiter: asyncio.Future[ConnectionPoolEntry], seconds: float | None
    ) -> ConnectionPoolEntry:
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except Empty:
            raise  # woken by `make_room`
        except BaseException as stopped:
            # Timed out or cancelled: if a connection was handed over meanwhile, pass it
            # on rather than lose it.
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
            if isinstance(stopped, TimeoutError):
                raise Empty() from None
            raise


class FairAsyncPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with `FairQueue` for its idle connections."""

    _queue_class: Any = FairQueue

    def _dec_overflow(self) -> Literal[True]:
        # A connection that could not be opened (or was closed) leaves a place free.
        freed = super()._dec_overflow()
        cast(FairQueue, self._pool).make_room()
        return freed
