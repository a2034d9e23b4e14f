"""Timeouts, retries and a circuit breaker around every GP system call.

- Every call has a deadline; a timeout becomes `GPSystemUnavailable`.
- Idempotent reads are retried with backoff (stamina); bookings, cancellations
  and other writes are never retried, so a slow GP system cannot book twice.
- A streamed answer (a document's chunks) has the deadline on each chunk, and is
  never retried part way.
- One circuit breaker per practice (purgatory) opens after consecutive failures
  of the GP system (never refusals: `shows_gp_system_failing`) and lets a trial
  call through after a cool-down. While open, calls fail at once with
  `GPSystemUnavailable` and a `retry_after` of the time left.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from app.gp.calls import GPCallCounter
from app.gp.delegate import CallKind, DelegatingGPSystem
from app.gp.errors import GPConfigurationFault, GPError, GPSystemUnavailable
from app.gp.port import GPSystem
from app.metrics import GPOutcome, observe_circuit, observe_gp_call

logger = logging.getLogger(__name__)

T = TypeVar("T")


def shows_gp_system_failing(exc: BaseException) -> bool:
    """Whether an error of a call counts towards opening the practice's breaker.

    Only what shows the GP system failing counts: a time-out, a connection that failed,
    and `GPSystemUnavailable` (its 5xx, an answer it could not make sense of). A refusal
    (slot taken, not found, a value it would not take) is the system working, and an
    error of our own (a bug, a cancelled request) says nothing about it. Whatever one
    patient sends, then, cannot open the breaker for the rest of the practice.
    """
    if isinstance(exc, GPConfigurationFault):
        return False  # our request or routing is wrong: the GP system answered
    return isinstance(exc, GPSystemUnavailable | TimeoutError | OSError)


def worth_retrying(exc: Exception) -> bool:
    """An outage may pass; a request the platform refused as ours to fix will not."""
    return isinstance(exc, GPSystemUnavailable) and not isinstance(exc, GPConfigurationFault)


def _not_a_failure(exc: BaseException) -> bool:
    return not shows_gp_system_failing(exc)


class BreakerBoard:
    """The circuit breakers, one per practice."""

    def __init__(self, *, default_threshold: int = 5, default_cooldown: int = 30) -> None:
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=default_threshold,
            default_ttl=default_cooldown,
            # Excluded errors count as answers: they close a half-open breaker too.
            exclude=[(BaseException, _not_a_failure)],
        )
        self._limits: dict[str, tuple[int, int]] = {}

    def configure(self, ods_code: str, *, threshold: int, cooldown: int) -> None:
        self._limits[ods_code] = (threshold, cooldown)

    async def _breaker(self, ods_code: str) -> AsyncCircuitBreaker:
        threshold, cooldown = self._limits.get(ods_code, (None, None))
        return await self._factory.get_breaker(ods_code, threshold=threshold, ttl=cooldown)

    async def call(self, ods_code: str, operation: Callable[[], Awaitable[T]]) -> T:
        breaker = await self._breaker(ods_code)
        try:
            async with breaker:
                return await operation()
        except OpenedState as opened:
            remaining = opened.opened_at + breaker.context.ttl - time.time()
            raise GPSystemUnavailable(retry_after=max(1, math.ceil(remaining))) from None

    async def state(self, ods_code: str) -> str:
        """`closed`, `opened` or `half-opened`."""
        breaker = await self._breaker(ods_code)
        return str(breaker.context.state)


class ResilientGPSystem(DelegatingGPSystem):
    """Wraps one practice's adapter with a deadline, read retries and its breaker."""

    def __init__(
        self,
        inner: GPSystem,
        *,
        breakers: BreakerBoard,
        timeout: float,
        read_attempts: int = 3,
        retry_wait: float = 0.1,
        calls: GPCallCounter | None = None,
    ) -> None:
        super().__init__(inner)
        self._breakers = breakers
        self._calls = calls or GPCallCounter()
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._retry_wait = retry_wait

    async def _call(self, kind: CallKind, operation: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        outcome: GPOutcome = "error"
        try:
            if kind is CallKind.READ:
                result = await self._read(operation)
            else:
                result = await self._write(operation)
            outcome = "ok"
            return result
        except GPSystemUnavailable:
            outcome = "unavailable"
            raise
        except GPError:
            outcome = "refused"  # the GP system answered: a business refusal
            raise
        finally:
            elapsed = time.perf_counter() - started
            observe_gp_call(self.ods_code, kind.value, outcome, elapsed)
            observe_circuit(self.ods_code, await self._breakers.state(self.ods_code))

    async def _once(self, operation: Callable[[], Awaitable[T]]) -> T:
        self._calls.add()  # each attempt that reaches the GP system, retries included
        try:
            async with asyncio.timeout(self._timeout):
                return await operation()
        except TimeoutError:
            logger.warning("GP system call timed out", extra={"ods_code": self.ods_code})
            raise GPSystemUnavailable(retry_after=10) from None

    async def _write(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await self._breakers.call(self.ods_code, lambda: self._once(operation))

    async def _read(self, operation: Callable[[], Awaitable[T]]) -> T:
        async def with_retries() -> T:
            async for attempt in stamina.retry_context(
                on=worth_retrying,
                attempts=self._read_attempts,
                wait_initial=self._retry_wait,
                wait_max=self._retry_wait * 10,
                wait_jitter=self._retry_wait,
                timeout=self._timeout * self._read_attempts,
            ):
                with attempt:
                    return await self._once(operation)
            raise AssertionError(
                "unreachable: stamina re-raises the last error"
            )  # pragma: no cover

        return await self._breakers.call(self.ods_code, with_retries)

    async def _stream(self, chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """Each chunk within the call deadline and through the practice's breaker, as a
        call is: a GP system that stalls part way is failing. Never retried."""
        try:
            while True:
                chunk = await self._breakers.call(self.ods_code, lambda: self._next(chunks))
                if chunk is None:
                    return
                yield chunk
        finally:
            await chunks.aclose()

    async def _next(self, chunks: AsyncGenerator[bytes, None]) -> bytes | None:
        """The next chunk, or None at the end."""
        try:
            async with asyncio.timeout(self._timeout):
                return await anext(chunks, None)
        except TimeoutError:
            logger.warning("GP system stream timed out", extra={"ods_code": self.ods_code})
            raise GPSystemUnavailable(retry_after=10) from None
