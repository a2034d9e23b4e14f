"""Rate limit budgets, counted with the `limits` library.

In memory by default (each worker counts alone); with `RATE_LIMIT_STORAGE_URL`
pointing at Redis, every worker and instance spends one shared budget. A budget
is a moving window: `10/hour` allows ten in any sixty minutes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from app.config import Settings
from app.problems import Problem

logger = logging.getLogger(__name__)


class Budget(StrEnum):
    """What a budget limits. `SIGN_IN` is per client address; the others per account."""

    SIGN_IN = "sign_in"
    BOOKING = "booking"
    PRESCRIPTION_REQUEST = "prescription_request"
    RECORD_CORRECTION = "record_correction"
    ACCOUNT = "account"  # every signed-in request: the ceiling
    REFUSAL_AUDIT = "refusal_audit"  # one audit row a minute per account and reason


class RateLimited(Problem):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
    default_detail = (
        "You have done this too many times in a short while. Please wait and try again."
    )

    def __init__(self, budget: Budget, retry_after: int) -> None:
        super().__init__(
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after": retry_after, "limit": budget.value},
        )
        self.budget = budget


def storage_uri(url: str | None) -> str:
    """The `limits` storage URI for `RATE_LIMIT_STORAGE_URL` (a Redis URL), or memory."""
    if not url:
        return "async+memory://"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return f"async+{url}"
    return url


@dataclass(frozen=True, slots=True)
class Refusal:
    budget: Budget
    retry_after: int


class RateLimiter:
    """Hits budgets; a refusal carries the seconds until the window lets the next one in."""

    def __init__(
        self, storage: Storage, budgets: dict[Budget, RateLimitItem], *, namespace: str
    ) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.budgets = budgets
        self.namespace = namespace

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        storage = storage_from_string(storage_uri(settings.rate_limit_storage_url))
        if not isinstance(storage, Storage):
            raise ConfigurationError("RATE_LIMIT_STORAGE_URL must name an async storage")
        return cls(
            storage, budgets_from_settings(settings), namespace=settings.rate_limit_namespace
        )

    async def hit(self, budget: Budget, key: str) -> Refusal | None:
        """Spend one from `key`'s budget; a `Refusal` if none is left.

        If the shared storage cannot be reached the request is let through (and
        logged): an outage of the counter must not lock patients out.
        """
        item = self.budgets.get(budget)
        if item is None:
            return None
        try:
            if await self.strategy.hit(item, self.namespace, budget.value, key):
                return None
            stats = await self.strategy.get_window_stats(item, self.namespace, budget.value, key)
        except Exception as error:
            logger.warning("rate limit storage unavailable: %s", type(error).__name__)
            return None
        return Refusal(budget, max(1, math.ceil(stats.reset_time - time.time())))

    async def check(self) -> bool:
        return bool(await self.storage.check())


def budgets_from_settings(settings: Settings) -> dict[Budget, RateLimitItem]:
    configured = {
        Budget.SIGN_IN: settings.rate_limit_sign_in,
        Budget.BOOKING: settings.rate_limit_booking,
        Budget.PRESCRIPTION_REQUEST: settings.rate_limit_prescription_request,
        Budget.RECORD_CORRECTION: settings.rate_limit_record_correction,
        Budget.ACCOUNT: settings.rate_limit_account,
    }
    audit = {Budget.REFUSAL_AUDIT: parse("1/minute")}
    if not settings.rate_limit_enabled:
        return audit
    return {budget: parse(value) for budget, value in configured.items()} | audit
