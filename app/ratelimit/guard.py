"""Spending a budget for a request: the one place a refusal becomes a 429 problem."""

from __future__ import annotations

from fastapi import Request

from app.audit.refusals import audit_refusal
from app.audit.types import AuditAction, AuditEvent
from app.metrics import RATE_LIMIT_REFUSALS
from app.ratelimit.service import Budget, RateLimited, RateLimiter


def rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def enforce(
    request: Request, budget: Budget, key: str, *, account_id: str | None = None
) -> None:
    """Spend one of `key`'s `budget`, or raise 429 `rate_limited` with `Retry-After`.

    Refusals of an account's budget are audited; of an address's, only counted.
    """
    refusal = await rate_limiter(request).hit(budget, key)
    if refusal is not None:
        RATE_LIMIT_REFUSALS.labels(refusal.budget.value).inc()
        if account_id is not None:
            event = AuditEvent(
                action=AuditAction.RATE_LIMITED, actor_id=account_id, target=budget.value
            )
            await audit_refusal(request, event)
        raise RateLimited(refusal.budget, refusal.retry_after)
