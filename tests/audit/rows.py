"""The audit trail's refusals, as tests read them back."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.audit.types import AuditOutcome


async def refused(app: FastAPI) -> list[AuditRecord]:
    """Every refusal recorded so far, oldest first."""
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(
            select(AuditRecord)
            .where(AuditRecord.outcome == AuditOutcome.REFUSED)
            .order_by(AuditRecord.sequence)
        )
        return list(rows)
