"""The shared storage unreachable: limits fall back to the worker's own count, and the
outage is logged once when it starts and once when it ends, never per request."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import pytest
from coredis.exceptions import ConnectionError as RedisConnectionError
from coredis.exceptions import RedisError
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.storage import storage_from_string

from app.ratelimit.service import Budget, RateLimiter, Refusal
from tests.live_server import free_port

LIMIT = 3
BUDGETS = {Budget.SIGN_IN: parse(f"{LIMIT}/minute")}
LOGGER = "app.ratelimit.service"
UNAVAILABLE = "rate limit storage unavailable"
BACK = "rate limit storage available again"
# Bounds each test that would otherwise wait for ever on a storage that hangs.
DEADLINE_SECONDS = 10


class FlakyStorage(MemoryStorage):
    """Memory storage that can be made to refuse, as a stopped Redis does, or to hang, as
    a paused one does; with the client library's exceptions, as the Redis storage has."""

    def __init__(self) -> None:
        super().__init__()
        self.state: Literal["up", "refusing", "hanging"] = "up"
        self.calls = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return RedisError

    async def answer(self) -> None:
        self.calls += 1
        if self.state == "refusing":
            raise RedisConnectionError("Connect call failed")
        if self.state == "hanging":
            await asyncio.Event().wait()

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        await self.answer()
        return await super().acquire_entry(key, limit, expiry, amount)

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        await self.answer()
        return await super().get_moving_window(key, limit, expiry)


async def spend(limiter: RateLimiter, count: int, key: str = "client") -> list[Refusal | None]:
    async with asyncio.timeout(DEADLINE_SECONDS):
        return [await limiter.hit(Budget.SIGN_IN, key) for _ in range(count)]


def allowed(outcomes: list[Refusal | None]) -> int:
    return sum(outcome is None for outcome in outcomes)


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and text in r.getMessage()]


@pytest.fixture(autouse=True)
def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)


async def test_a_stopped_redis_is_logged_once_and_each_worker_counts_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A real Redis client, and nothing listening on its port: connections are refused.
    storage = storage_from_string(f"async+redis://127.0.0.1:{free_port()}")
    limiter = RateLimiter(storage, BUDGETS, namespace="outage")  # type: ignore[arg-type]

    outcomes = await spend(limiter, LIMIT * 4)

    # Open to the worker's own budget: the patient gets through, a flood does not.
    assert allowed(outcomes[:LIMIT]) == LIMIT
    assert allowed(outcomes[LIMIT:]) == 0
    [warning] = logged(caplog, UNAVAILABLE)
    assert warning.levelno == logging.WARNING
    assert "fail open" in warning.getMessage()


async def test_every_request_tries_the_storage_and_still_one_line_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = storage_from_string(f"async+redis://127.0.0.1:{free_port()}")
    limiter = RateLimiter(storage, BUDGETS, namespace="outage", retry_seconds=0)  # type: ignore[arg-type]

    await spend(limiter, LIMIT * 4)

    assert len(logged(caplog, UNAVAILABLE)) == 1


async def test_the_storage_back_is_logged_once_and_its_budget_is_shared_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = FlakyStorage()
    limiter = RateLimiter(storage, BUDGETS, namespace="outage", retry_seconds=0)
    assert allowed(await spend(limiter, 1)) == 1  # one spent in the shared storage

    storage.state = "refusing"
    assert allowed(await spend(limiter, LIMIT + 1)) == LIMIT  # the worker's own count

    storage.state = "up"
    # The shared budget again, where one was spent before the outage.
    assert allowed(await spend(limiter, LIMIT + 1)) == LIMIT - 1
    assert [(r.levelno, BACK in r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        (logging.WARNING, False),
        (logging.INFO, True),
    ]


async def test_while_unreachable_the_storage_is_not_asked_on_every_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = FlakyStorage()
    limiter = RateLimiter(storage, BUDGETS, namespace="outage", retry_seconds=3600)
    storage.state = "refusing"
    await spend(limiter, LIMIT * 4)
    assert storage.calls == 1

    # Back, but not asked again until the retry interval has passed.
    storage.state = "up"
    await spend(limiter, 1)
    assert storage.calls == 1
    assert logged(caplog, BACK) == []


async def test_a_storage_that_hangs_is_given_up_on(caplog: pytest.LogCaptureFixture) -> None:
    storage = FlakyStorage()
    limiter = RateLimiter(storage, BUDGETS, namespace="outage", storage_seconds=0.05)
    storage.state = "hanging"

    outcomes = await spend(limiter, LIMIT + 1)

    assert allowed(outcomes) == LIMIT
    assert len(logged(caplog, UNAVAILABLE)) == 1


async def test_a_fault_that_is_not_the_storage_is_not_hidden() -> None:
    class BrokenStorage(FlakyStorage):
        async def answer(self) -> None:
            raise RuntimeError("a bug, not an outage")

    limiter = RateLimiter(BrokenStorage(), BUDGETS, namespace="outage")
    with pytest.raises(RuntimeError):
        await spend(limiter, 1)
