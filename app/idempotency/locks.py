"""One action at a time per patient, across workers and instances.

A patient's writes that depend on what the GP system holds (the booking limit
counts booked appointments; a course may not be ordered while a request for it
is pending) are check-then-act: two concurrent requests with different
Idempotency-Keys could both pass the check. Holding a lock named for the
action and the patient around the check and the GP call closes that gap.

The lock is a row in the app database, committed in its own transaction, so
no database connection is held while the GP system answers. A second request
waits for the first (they are usually different, legitimate actions) and then
checks afresh; past `WAIT` it is told to try again in a moment. A lock is a lease
(`app.idempotency.lease`): one left by a worker that died holding it frees itself.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.idempotency.lease import lease_length, wall_now
from app.idempotency.models import ActionLock
from app.idempotency.service import RequestInProgress

logger = logging.getLogger(__name__)

WAIT = 15.0  # seconds a second request waits for the first
POLL_INTERVAL = 0.05


async def _try_take(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> bool:
    now = wall_now()
    async with sessions() as session:
        # A lock past its expiry was left by a request that died: it protects nothing.
        await session.execute(
            delete(ActionLock).where(ActionLock.name == name, ActionLock.expires_at < now)
        )
        session.add(ActionLock(name=name, holder=holder, expires_at=now + lease_length()))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False
        return True


async def _release(sessions: async_sessionmaker[AsyncSession], name: str, holder: str) -> None:
    """Free the lock; one the database cannot free now lapses with its lease.

    The action it guarded has happened (or not) whatever this does: a failure here must
    not turn a booking the GP system made into an error, which the patient would retry.
    """
    try:
        async with sessions() as session:
            await session.execute(
                delete(ActionLock).where(ActionLock.name == name, ActionLock.holder == holder)
            )
            await session.commit()
    except SQLAlchemyError as error:
        logger.warning("lock not released, lapses with its lease: %s", type(error).__name__)


@asynccontextmanager
async def one_at_a_time(
    sessions: async_sessionmaker[AsyncSession], name: str
) -> AsyncIterator[None]:
    """Hold the lock `name` for the block. Raises `RequestInProgress` after `WAIT`."""
    holder = secrets.token_hex(16)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await _try_take(sessions, name, holder):
        if loop.time() >= deadline:
            raise RequestInProgress()
        await asyncio.sleep(POLL_INTERVAL)
    try:
        yield
    finally:
        # Shielded: a request cancelled mid-way must still let the next one in.
        await asyncio.shield(_release(sessions, name, holder))
