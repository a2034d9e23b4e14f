"""Recording refusals: denied patient access, failed CSRF or Origin checks, spent budgets.

Each is a row with outcome `refused`, in a transaction of its own (the request's
own work is not committed), holding who was refused and why (a code), never
what the request carried. A flood must not become a flood of audit writes: each
account and reason is recorded at most once a minute (counted through the rate
limit storage, so shared by every instance with Redis); the metrics count all.
"""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from app.audit.service import record
from app.audit.types import AuditEvent, AuditOutcome
from app.ratelimit.service import Budget, RateLimiter

logger = logging.getLogger(__name__)


async def audit_refusal(request: Request, event: AuditEvent) -> None:
    """Record `event` as refused; a failure to record is logged, never shown instead."""
    limiter: RateLimiter = request.app.state.rate_limiter
    key = f"{event.actor_id}:{event.action.value}:{event.target or ''}"
    if await limiter.hit(Budget.REFUSAL_AUDIT, key) is not None:
        return
    refused = event.model_copy(update={"outcome": AuditOutcome.REFUSED})
    try:
        async with request.app.state.sessionmaker() as db:
            await record(db, refused, clock=request.app.state.clock)
            await db.commit()
    except SQLAlchemyError as error:
        logger.warning("could not record a refusal: %s", type(error).__name__)
