"""A `GPSystem` that passes every call to another one through a single hook.

Wrappers around the port (the resilience layer, an adapter over its simulated
supplier) differ only in what they do around each call, so the list of port
methods is written once, here. Each call says whether it is a read (safe to
retry) or a write (never retried).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

from app.gp.port import GPSystem
from app.gp.types import (
    Appointment,
    AppointmentType,
    BookingRequest,
    CancellationReason,
    Capability,
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
    ProxyGrant,
    RecordAccess,
    RecordEntry,
    RecordSection,
    Relationship,
    Slot,
)

T = TypeVar("T")


class CallKind(Enum):
    READ = "read"  # idempotent: may be retried
    WRITE = "write"  # books, cancels, requests, sends: never retried


READ = CallKind.READ
WRITE = CallKind.WRITE


class DelegatingGPSystem:
    """Every port method, delegated to `self._inner` through `self._call`."""

    def __init__(self, inner: GPSystem) -> None:
        self._inner = inner

    @property
    def ods_code(self) -> str:
        return self._inner.ods_code

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._inner.capabilities

    async def _call(self, kind: CallKind, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one call to the inner system; subclasses add what goes around it."""
        return await operation()

    def _stream(self, chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """The chunks of a streamed answer (a document), as the inner system sends them;
        subclasses add what goes around each read. Never retried: a chunk already passed
        on cannot be taken back."""
        return chunks

    # --- linkage and people ---------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        return await self._call(READ, lambda: self._inner.link_by_credentials(credentials))

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        return await self._call(READ, lambda: self._inner.link_by_demographics(match))

    async def get_patient(self, patient_ref: str) -> Patient:
        return await self._call(READ, lambda: self._inner.get_patient(patient_ref))

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        return await self._call(READ, lambda: self._inner.list_relationships(user_ref))

    async def get_practice_settings(self) -> PracticeSettings:
        return await self._call(READ, self._inner.get_practice_settings)

    # --- appointments -----------------------------------------------------

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        patient_ref: str,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
        return await self._call(
            READ,
            lambda: self._inner.search_slots(
                start,
                end,
                patient_ref=patient_ref,
                appointment_type=appointment_type,
                clinician=clinician,
                limit=limit,
            ),
        )

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        return await self._call(READ, lambda: self._inner.list_appointments(patient_ref))

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        return await self._call(WRITE, lambda: self._inner.book_appointment(request))

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        return await self._call(
            WRITE,
            lambda: self._inner.cancel_appointment(
                patient_ref, appointment_id, reason_code=reason_code, actor_ref=actor_ref
            ),
        )

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return await self._call(READ, self._inner.list_cancellation_reasons)

    # --- prescriptions --------------------------------------------------------

    async def list_courses(self, patient_ref: str) -> list[Course]:
        return await self._call(READ, lambda: self._inner.list_courses(patient_ref))

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        return await self._call(READ, lambda: self._inner.list_prescription_requests(patient_ref))

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._call(
            WRITE,
            lambda: self._inner.request_prescription(
                patient_ref, course_ids, note=note, actor_ref=actor_ref
            ),
        )

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._call(
            WRITE,
            lambda: self._inner.cancel_prescription_request(
                patient_ref, request_id, actor_ref=actor_ref
            ),
        )

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        return await self._call(READ, lambda: self._inner.get_nominated_pharmacy(patient_ref))

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        return await self._call(
            WRITE,
            lambda: self._inner.set_nominated_pharmacy(
                patient_ref, pharmacy_ods_code, actor_ref=actor_ref
            ),
        )

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        return await self._call(READ, lambda: self._inner.get_record_access(patient_ref))

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        return await self._call(READ, lambda: self._inner.list_record_entries(patient_ref, section))

    async def list_documents(self, patient_ref: str) -> list[Document]:
        return await self._call(READ, lambda: self._inner.list_documents(patient_ref))

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        content = await self._call(
            READ, lambda: self._inner.get_document_content(patient_ref, document_id)
        )
        return replace(content, chunks=self._stream(content.chunks))

    # --- messages -----------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        return await self._call(WRITE, lambda: self._inner.send_message(patient_ref, message))

    # --- access changes a practice approved ------------------------------------------

    async def grant_historic_access(
        self, patient_ref: str, *, from_date: date | None, actor_ref: str
    ) -> None:
        return await self._call(
            WRITE,
            lambda: self._inner.grant_historic_access(
                patient_ref, from_date=from_date, actor_ref=actor_ref
            ),
        )

    async def grant_detailed_coded_access(self, patient_ref: str, *, actor_ref: str) -> None:
        return await self._call(
            WRITE,
            lambda: self._inner.grant_detailed_coded_access(patient_ref, actor_ref=actor_ref),
        )

    async def create_proxy_relationship(self, grant: ProxyGrant) -> None:
        return await self._call(WRITE, lambda: self._inner.create_proxy_relationship(grant))
