"""Fixtures for the audit trail: sessions on the shared `engine`, and a way to write events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.service import record
from app.audit.types import AuditAction, AuditEvent
from app.db import create_sessionmaker
from app.gp.types import RelationshipKind
from tests.conftest import FakeClock

WriteEvents = Callable[[Iterable[AuditEvent]], Awaitable[None]]

PATIENT = "pt-aX9fQ2"
OTHER_PATIENT = "pt-Zk81wq"
PATIENT_ACCOUNT = "acct-7Hq2Lm"
PROXY_ACCOUNT = "acct-Pr0xy1"


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def write_events(sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock) -> WriteEvents:
    """Record each event in its own committed transaction, a second apart."""

    async def write(events: Iterable[AuditEvent]) -> None:
        for event in events:
            async with sessionmaker() as session:
                await record(session, event, clock=clock)
                await session.commit()
            clock.advance(timedelta(seconds=1))

    return write


def sample_events(count: int) -> list[AuditEvent]:
    """Varied events with every optional field filled, so that any field can be tampered with."""
    return [
        AuditEvent(
            action=AuditAction.APPOINTMENT_BOOKED if n % 2 else AuditAction.RECORD_SECTION_VIEWED,
            actor_id=PROXY_ACCOUNT if n % 2 else PATIENT_ACCOUNT,
            patient_id=PATIENT,
            on_behalf=bool(n % 2),
            relationship_kind=RelationshipKind.PARENT if n % 2 else RelationshipKind.SELF,
            target=f"target-{n}",
            request_id=f"req-{n}",
        )
        for n in range(1, count + 1)
    ]
