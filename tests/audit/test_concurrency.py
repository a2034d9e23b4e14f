"""Appends from many requests at once keep one unbroken chain, on every backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.chain import verify_chain
from app.audit.models import AuditRecord
from app.audit.service import record
from app.audit.types import AuditAction, AuditEvent
from tests.audit.conftest import PATIENT, PATIENT_ACCOUNT
from tests.conftest import FakeClock

APPENDS = 60


async def test_concurrent_appends_keep_the_chain_intact(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async def booking(n: int) -> None:
        async with sessionmaker() as session:
            # The caller's own reads come first, as a booking's would.
            await session.scalar(select(func.count()).select_from(AuditRecord))
            event = AuditEvent(
                action=AuditAction.APPOINTMENT_BOOKED,
                actor_id=PATIENT_ACCOUNT,
                patient_id=PATIENT,
                target=f"appt-{n}",
            )
            await record(session, event, clock=clock)
            await asyncio.sleep(0)  # let the others run while this one holds the chain
            await session.commit()

    await asyncio.gather(*(booking(n) for n in range(APPENDS)))

    async with sessionmaker() as session:
        result = await verify_chain(session, batch_size=7)
        targets = set((await session.scalars(select(AuditRecord.target))).all())
    assert result.ok, result.describe()
    assert result.checked == result.tip_sequence == APPENDS
    assert targets == {f"appt-{n}" for n in range(APPENDS)}


async def test_a_rolled_back_append_leaves_no_gap(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async def append(n: int) -> None:
        async with sessionmaker() as session:
            event = AuditEvent(action=AuditAction.SIGN_IN, actor_id=f"acct-{n}")
            await record(session, event, clock=clock)
            if n % 3 == 0:
                await session.rollback()  # the action failed after it was audited
            else:
                await session.commit()

    await asyncio.gather(*(append(n) for n in range(30)))

    async with sessionmaker() as session:
        result = await verify_chain(session)
    assert result.ok, result.describe()
    assert result.checked == 20
