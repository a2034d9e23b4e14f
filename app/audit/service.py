"""Writing to the audit trail and reading a patient's part of it.

`record` adds the row to the caller's session and transaction, so an action
and its audit row commit (or roll back) together.
"""

from __future__ import annotations

import logging
import re

from asgi_correlation_id import correlation_id
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import GENESIS_HASH, ChainFields, chain_hash
from app.audit.models import AuditRecord
from app.audit.types import REQUEST_ID_PATTERN, AuditEntry, AuditEvent, AuditPage
from app.clock import Clock
from app.cursors import ListCursors
from app.problems import InvalidCursor

logger = logging.getLogger(__name__)

# One application-wide key for the PostgreSQL advisory lock that serialises
# appends; any fixed 64-bit number that nothing else in the database uses.
CHAIN_LOCK_KEY = 0x6770_6F6E_6175_6474  # "gponaudt"

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


async def record(session: AsyncSession, event: AuditEvent, *, clock: Clock) -> None:
    """Append `event` to the chain within the caller's transaction; the caller commits.

    The chain lock is held from here until the caller's transaction ends, so
    record last, just before committing. Needs READ COMMITTED on PostgreSQL
    (its default): the chain tip must be read after the lock is granted.
    """
    await _lock_chain(session)
    tip = (
        await session.execute(
            select(AuditRecord.sequence, AuditRecord.hash)
            .order_by(AuditRecord.sequence.desc())
            .limit(1)
        )
    ).first()
    sequence, previous_hash = (tip[0] + 1, tip[1]) if tip else (1, GENESIS_HASH)
    row = AuditRecord(
        sequence=sequence,
        occurred_at=clock.now(),
        request_id=event.request_id or _current_request_id(),
        action=event.action,
        actor_id=event.actor_id,
        patient_id=event.patient_id,
        on_behalf=event.on_behalf,
        relationship_kind=event.relationship_kind,
        target=event.target,
        outcome=event.outcome,
        previous_hash=previous_hash,
    )
    row.hash = chain_hash(
        ChainFields(
            sequence=row.sequence,
            occurred_at=row.occurred_at,
            request_id=row.request_id,
            action=row.action.value,
            actor_id=row.actor_id,
            patient_id=row.patient_id,
            on_behalf=row.on_behalf,
            relationship_kind=row.relationship_kind.value if row.relationship_kind else None,
            target=row.target,
            outcome=row.outcome.value,
            previous_hash=row.previous_hash,
        )
    )
    session.add(row)
    # Written now, so that a second `record` in the same transaction sees this tip.
    await session.flush()


def _current_request_id() -> str | None:
    # The middleware only accepts plain ids; checked again so nothing else gets in.
    request_id = correlation_id.get()
    return request_id if request_id and re.fullmatch(REQUEST_ID_PATTERN, request_id) else None


async def _lock_chain(session: AsyncSession) -> None:
    """Take the chain's write lock for the rest of the transaction, before reading the tip."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
        return
    # SQLite has one writer at a time. A write statement (which matches no row)
    # makes this a write transaction now, waiting out other writers through the
    # busy timeout, as BEGIN IMMEDIATE would; the tip read next is then current.
    await session.execute(
        text("UPDATE audit_events SET sequence = sequence WHERE sequence IS NULL")
    )


async def list_for_patient(
    session: AsyncSession,
    patient_id: str,
    *,
    cursors: ListCursors,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> AuditPage:
    """Who has viewed or acted on this patient's record (they or a proxy), newest first.

    Newest means most recently recorded (chain order), which is stable even when
    clocks of concurrent requests disagree. `cursor` is `next_cursor` from the
    previous page, issued by `cursors` (this patient's log, as this viewer reads it):
    signed, so that it names no position in the service-wide chain.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = select(AuditRecord).where(AuditRecord.patient_id == patient_id)
    if cursor is not None:
        query = query.where(AuditRecord.sequence < _before(cursors, cursor))
    rows = (
        await session.scalars(query.order_by(AuditRecord.sequence.desc()).limit(limit + 1))
    ).all()
    page = rows[:limit]
    next_cursor = cursors.issue(str(page[-1].sequence)) if len(rows) > limit else None
    return AuditPage(entries=[_entry(row) for row in page], next_cursor=next_cursor)


def _entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry(
        occurred_at=row.occurred_at,
        action=row.action,
        actor_id=row.actor_id,
        on_behalf=row.on_behalf,
        relationship_kind=row.relationship_kind,
        target=row.target,
        outcome=row.outcome,
    )


def _before(cursors: ListCursors, cursor: str) -> int:
    position = cursors.read(cursor)
    if len(position) != 1 or not (position[0].isascii() and position[0].isdigit()):
        raise InvalidCursor()
    return int(position[0])


AUDIT_ATTEMPTS = 2


async def record_completed(session: AsyncSession, clock: Clock, event: AuditEvent) -> None:
    """Audit an action the GP system has already carried out, and commit.

    The booking, cancellation or request stands whatever happens here, so a failure to
    write its audit row must not turn it into an error the patient would retry
    (booking twice). The row is tried again; if it still cannot be written, the
    gap is logged with the request id and opaque ids for reconciliation.
    """
    for attempt in range(1, AUDIT_ATTEMPTS + 1):
        try:
            await record(session, event, clock=clock)
            await session.commit()
            return
        except SQLAlchemyError as error:
            await session.rollback()
            logger.error(
                "audit row not written for a completed action (attempt %d): %s %s (%s)",
                attempt,
                event.action.value,
                event.target,
                type(error).__name__,
            )
