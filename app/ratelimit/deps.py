"""The dependencies routes attach: `RateLimited(Budget.BOOKING)` and `SignInRateLimit`.

    @router.post(..., dependencies=[Depends(RateLimited(Budget.BOOKING))])

Account budgets are keyed by the signed-in account (whoever they act for);
sign-in budgets by the client's address (behind a proxy, the forwarded address
uvicorn trusts from `FORWARDED_ALLOW_IPS`).
"""

from __future__ import annotations

from fastapi import Depends, Request

from app.auth.deps import CurrentSession
from app.ratelimit.guard import enforce
from app.ratelimit.service import Budget
from app.request_body import body_will_be_refused
from app.request_limits import client_address

__all__ = ["Budget", "RateLimited", "SignInRateLimit"]


class RateLimited:
    """A dependency spending one of the signed-in account's `budget` per request."""

    def __init__(self, budget: Budget | str) -> None:
        self.budget = Budget(budget)

    async def __call__(self, request: Request, signed_in: CurrentSession) -> None:
        # FastAPI validates the body after the dependencies: a request it will refuse
        # (422) does nothing, so it spends nothing (a mistyped report of an inaccuracy
        # must not use up one of the day's few).
        if await body_will_be_refused(request):
            return
        await enforce(request, self.budget, signed_in.account_id, account_id=signed_in.account_id)


async def _sign_in_rate_limit(request: Request) -> None:
    # Counted as the worker's share is (`client_address`): an IPv6 subscriber's /64 is one
    # client, and so is every forwarded value that is not an address.
    await enforce(request, Budget.SIGN_IN, client_address(request.scope) or "unknown")


SignInRateLimit = Depends(_sign_in_rate_limit)
