"""Waiting requests get database connections in the order they asked (app.pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import greenlet_spawn

from app.db import create_engine
from app.pool import FairAsyncPool, FairQueue
from tests.conftest import postgres_url


@pytest.fixture
async def one_connection() -> AsyncIterator[AsyncEngine]:
    url = postgres_url()
    if not url:
        pytest.skip("PostgreSQL runs need TEST_DATABASE_URL")
    engine = create_engine(url, pool_size=1)
    yield engine
    await engine.dispose()


def queue(engine: AsyncEngine) -> FairQueue:
    pool = engine.sync_engine.pool
    assert isinstance(pool, FairAsyncPool)
    fair = pool._pool
    assert isinstance(fair, FairQueue)
    return fair


async def until_waiting(engine: AsyncEngine, count: int) -> None:
    for _ in range(100):  # checking out from a full pool does no I/O before it waits
        if len(queue(engine)._waiters) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"fewer than {count} waiting")


async def test_a_returned_connection_goes_to_the_longest_waiter_not_a_newcomer(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []

    async def use(name: str) -> None:
        async with one_connection.connect() as connection:
            await connection.execute(text("SELECT 1"))
            served.append(name)

    async with one_connection.connect() as held:
        await held.execute(text("SELECT 1"))
        waiters = [asyncio.create_task(use(name)) for name in ("first", "second", "third")]
        await until_waiting(one_connection, 3)
    # Returned just now; asking again at once must not jump the queue.
    await use("newcomer")
    await asyncio.gather(*waiters)
    assert served == ["first", "second", "third", "newcomer"]
    assert one_connection.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_handed_to_a_waiter_that_gave_up_passes_to_the_next() -> None:
    fair = FairQueue(1)
    first = asyncio.create_task(greenlet_spawn(fair.get))
    second = asyncio.create_task(greenlet_spawn(fair.get))
    for _ in range(20):  # both reach the queue and wait: no I/O on the way
        await asyncio.sleep(0)
    assert len(fair._waiters) == 2
    connection = cast(ConnectionPoolEntry, object())
    fair.put_nowait(connection)  # handed to the first waiter...
    first.cancel()  # ...which gives up before it could run
    async with asyncio.timeout(5):
        assert await second is connection
    assert first.cancelled()
    assert fair.empty()


async def test_a_waiter_that_times_out_is_refused_and_the_pool_keeps_its_connection() -> None:
    url = postgres_url()
    if not url:
        pytest.skip("PostgreSQL runs need TEST_DATABASE_URL")
    engine = create_async_engine(
        url, poolclass=FairAsyncPool, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(PoolTimeout):
                async with engine.connect():
                    pass
            assert all(waiter.done() for waiter in queue(engine)._waiters)
        async with asyncio.timeout(5), engine.connect() as again:
            assert (await again.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
