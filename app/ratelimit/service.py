"""Rate limit budgets, counted with the `limits` library.

In memory by default (each worker counts alone); with `RATE_LIMIT_STORAGE_URL`
pointing at Redis, every worker and instance spends one shared budget. A budget
is a moving window: `10/hour` allows ten in any sixty minutes.

While Redis cannot be reached, each worker counts alone again, in its own memory:
limits fail open to the per-worker budget, never to no limit, and never closed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from app.config import Settings
from app.problems import Problem

logger = logging.getLogger(__name__)

# A Redis that hangs (a paused process, a dropped route) would hold every request
# for as long as the client waits, which is forever by default: coredis has no
# socket timeouts unless the URL sets `connect_timeout` and `stream_timeout`, and
# then retries twice. One deadline here bounds a hit whatever the URL says.
STORAGE_SECONDS = 0.5
# While Redis is unreachable, one request a worker tries it again this often; the
# rest count locally without waiting for it.
RETRY_SECONDS = 1.0


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
    example_extra: ClassVar[Mapping[str, object]] = {"retry_after": 60, "limit": "booking"}

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
    """Hits budgets; a refusal carries the seconds until the window lets the next one in.

    Budgets are spent in the shared `storage`. While it cannot be reached they are
    spent in this worker's memory instead, and the change is logged once each way.
    """

    def __init__(
        self,
        storage: Storage,
        budgets: dict[Budget, RateLimitItem],
        *,
        namespace: str,
        storage_seconds: float = STORAGE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.budgets = budgets
        self.namespace = namespace
        self.storage_seconds = storage_seconds
        self.retry_seconds = retry_seconds
        self.storage_faults = storage_faults(storage)
        self._unreachable = False
        self._next_try = 0.0

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

        If the shared storage cannot be reached, or does not answer within
        `storage_seconds`, the budget is this worker's own until it is back: an outage
        of the counter must not lock patients out, nor lift every limit.
        """
        item = self.budgets.get(budget)
        if item is None:
            return None
        if self._shared_storage_due():
            try:
                async with asyncio.timeout(self.storage_seconds):
                    refusal = await self._spend(self.strategy, item, budget, key)
            except self.storage_faults as fault:
                self._storage_failed(fault)
            else:
                self._storage_answered()
                return refusal
        return await self._spend(self.local, item, budget, key)

    async def _spend(
        self, strategy: MovingWindowRateLimiter, item: RateLimitItem, budget: Budget, key: str
    ) -> Refusal | None:
        if await strategy.hit(item, self.namespace, budget.value, key):
            return None
        stats = await strategy.get_window_stats(item, self.namespace, budget.value, key)
        return Refusal(budget, max(1, math.ceil(stats.reset_time - time.time())))

    def _shared_storage_due(self) -> bool:
        """Whether to use the shared storage now: always while it answers; while it does
        not, once every `retry_seconds`, by one request (the others do not wait for it)."""
        if not self._unreachable:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_seconds
        return True

    def _storage_failed(self, fault: BaseException) -> None:
        self._next_try = time.monotonic() + self.retry_seconds
        if self._unreachable:
            return
        self._unreachable = True
        logger.warning(
            "rate limit storage unavailable (%s): limits fail open to each worker's own "
            "count until it is back",
            type(fault).__name__,
        )

    def _storage_answered(self) -> None:
        if self._unreachable:
            self._unreachable = False
            logger.info("rate limit storage available again: limits are shared again")

    async def check(self) -> bool:
        return bool(await self.storage.check())


def storage_faults(storage: Storage) -> tuple[type[BaseException], ...]:
    """What shows the storage cannot count now (refused, timed out, an error reply);
    anything else is a bug, and stays one."""
    base = storage.base_exceptions
    return (TimeoutError, OSError, *(base if isinstance(base, tuple) else (base,)))


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
