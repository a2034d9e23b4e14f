"""Timeouts, retries and a circuit breaker around every GP system call.

- Every call has a deadline; a timeout becomes `GPSystemUnavailable`.
- Idempotent reads are retried with backoff (stamina); bookings, cancellations
  and other writes are never retried, so a slow GP system cannot book twice.
- One circuit breaker per practice (purgatory) opens after consecutive failures
  and lets a trial call through after a cool-down. While open, calls fail at
  once with `GPSystemUnavailable` and a `retry_after` of the time left.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from app.gp.errors import GPError, GPSystemUnavailable
from app.gp.port import GPSystem
from app.gp.types import (
    Appointment,
    AppointmentType,
    BookingRequest,
    CancellationReason,
    Course,
    DemographicMatch,
    Document,
    DocumentContent,
    GPCredentials,
    LinkedUser,
    Patient,
    Pharmacy,
    PracticeMessage,
    PracticeSettings,
    PrescriptionRequest,
    RecordAccess,
    RecordEntry,
    RecordSection,
    Relationship,
    Slot,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _business_error(exc: BaseException) -> bool:
    """A refusal (slot taken, too late…) is the GP system working: not a breaker failure."""
    return isinstance(exc, GPError) and not isinstance(exc, GPSystemUnavailable)


class BreakerBoard:
    """The circuit breakers, one per practice."""

    def __init__(self, *, default_threshold: int = 5, default_cooldown: int = 30) -> None:
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=default_threshold,
            default_ttl=default_cooldown,
            exclude=[(GPError, _business_error)],
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


class ResilientGPSystem:
    """Wraps one practice's adapter with a deadline, read retries and its breaker."""

    def __init__(
        self,
        inner: GPSystem,
        *,
        breakers: BreakerBoard,
        timeout: float,
        read_attempts: int = 3,
        retry_wait: float = 0.1,
    ) -> None:
        self._inner = inner
        self._breakers = breakers
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._retry_wait = retry_wait

    @property
    def ods_code(self) -> str:
        return self._inner.ods_code

    async def _once(self, operation: Callable[[], Awaitable[T]]) -> T:
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
                on=GPSystemUnavailable,
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

    # --- linkage and people ---------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        return await self._read(lambda: self._inner.link_by_credentials(credentials))

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        return await self._read(lambda: self._inner.link_by_demographics(match))

    async def get_patient(self, patient_ref: str) -> Patient:
        return await self._read(lambda: self._inner.get_patient(patient_ref))

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        return await self._read(lambda: self._inner.list_relationships(user_ref))

    async def get_practice_settings(self) -> PracticeSettings:
        return await self._read(self._inner.get_practice_settings)

    # --- appointments -----------------------------------------------------

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
    ) -> list[Slot]:
        return await self._read(
            lambda: self._inner.search_slots(
                start, end, appointment_type=appointment_type, clinician=clinician
            )
        )

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        return await self._read(lambda: self._inner.list_appointments(patient_ref))

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        return await self._write(lambda: self._inner.book_appointment(request))

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        return await self._write(
            lambda: self._inner.cancel_appointment(
                patient_ref, appointment_id, reason_code=reason_code, actor_ref=actor_ref
            )
        )

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return await self._read(self._inner.list_cancellation_reasons)

    # --- prescriptions --------------------------------------------------------

    async def list_courses(self, patient_ref: str) -> list[Course]:
        return await self._read(lambda: self._inner.list_courses(patient_ref))

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        return await self._read(lambda: self._inner.list_prescription_requests(patient_ref))

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._write(
            lambda: self._inner.request_prescription(
                patient_ref, course_ids, note=note, actor_ref=actor_ref
            )
        )

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._write(
            lambda: self._inner.cancel_prescription_request(
                patient_ref, request_id, actor_ref=actor_ref
            )
        )

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        return await self._read(lambda: self._inner.get_nominated_pharmacy(patient_ref))

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        return await self._write(
            lambda: self._inner.set_nominated_pharmacy(
                patient_ref, pharmacy_ods_code, actor_ref=actor_ref
            )
        )

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        return await self._read(lambda: self._inner.get_record_access(patient_ref))

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        return await self._read(lambda: self._inner.list_record_entries(patient_ref, section))

    async def list_documents(self, patient_ref: str) -> list[Document]:
        return await self._read(lambda: self._inner.list_documents(patient_ref))

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        return await self._read(lambda: self._inner.get_document_content(patient_ref, document_id))

    # --- messages -----------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        return await self._write(lambda: self._inner.send_message(patient_ref, message))
