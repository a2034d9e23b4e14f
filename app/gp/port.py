"""The GP system port: one practice's clinical system, as every feature sees it.

An instance is bound to one practice (ODS code). Every method may raise
`GPSystemUnavailable`; the others it may raise are named in its docstring.
Mutating calls carry `actor_ref`, the GP system's id for whoever is acting
(the patient or their proxy), so the practice sees who did it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol, runtime_checkable

from app.gp.errors import NotAvailableAtPractice
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


@runtime_checkable
class GPSystem(Protocol):
    """One practice's clinical system."""

    @property
    def ods_code(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this system offers of the optional parts of the port (`Capability`).

        A method whose capability is absent raises `NotAvailableAtPractice`.
        """
        ...

    # --- linkage and people ---------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        """NHS login's GP credentials → the user. Raises `LinkageFailed`."""
        ...

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        """NHS number + surname + date of birth → the user. Raises `PatientNotFound`."""
        ...

    async def get_patient(self, patient_ref: str) -> Patient:
        """Demographics. Raises `PatientNotFound`."""
        ...

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        """The user's own record (kind `self`) and each patient they are a proxy for."""
        ...

    async def get_practice_settings(self) -> PracticeSettings: ...

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
        """Free slots starting within [start, end), earliest first, for `patient_ref`:
        the patient who would be booked (a system may search only on their behalf, as
        GP Connect's patient-facing API does, with their own access token).

        With `limit`, the earliest `limit` of them are enough: an adapter may stop
        there (the sandbox does), or return them all.
        """
        ...

    async def list_appointments(self, patient_ref: str) -> list[Appointment]: ...

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        """Book a free slot atomically. Raises `SlotUnavailable`, `BookingLimitReached`,
        `OutsideBookingWindow`, `ReasonRequired`, `NotFoundInGPSystem`."""
        ...

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        """Raises `TooLateToCancel`, `NotCancellable`, `NotFoundInGPSystem`."""
        ...

    async def list_cancellation_reasons(self) -> list[CancellationReason]: ...

    # --- prescriptions --------------------------------------------------------

    async def list_courses(self, patient_ref: str) -> list[Course]: ...

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]: ...

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        """Raises `CourseNotOrderable`, `TooManyItems`, `NotFoundInGPSystem`."""
        ...

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        """Only while it is still `requested`. Raises `RequestNotCancellable` (dealt with, or
        cancelled already), `NotFoundInGPSystem`."""
        ...

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None: ...

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        """Raises `NotFoundInGPSystem` for an unknown pharmacy."""
        ...

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess: ...

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        """Every entry of the section with its visibility flags, newest first."""
        ...

    async def list_documents(self, patient_ref: str) -> list[Document]: ...

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        """Open a document to read it chunk by chunk. Raises `NotFoundInGPSystem` here,
        before any content; reading `chunks` may raise `GPSystemUnavailable` part way."""
        ...

    # --- messages -----------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        """Send a structured message to the practice; returns the GP system's id for it."""
        ...

    # --- access changes a practice approved (`Capability.ACCESS_CHANGES`) --------

    async def grant_historic_access(
        self, patient_ref: str, *, from_date: date | None, actor_ref: str
    ) -> None:
        """The full record before the patient's access start: every date, or from
        `from_date` where the practice granted from a date. Raises `PatientNotFound`."""
        ...

    async def grant_detailed_coded_access(self, patient_ref: str, *, actor_ref: str) -> None:
        """The detailed coded record, of any date. Raises `PatientNotFound`."""
        ...

    async def create_proxy_relationship(self, grant: ProxyGrant) -> None:
        """Record the proxy relationship (or replace the one between the same two people).
        Raises `PatientNotFound`."""
        ...


def require(system: GPSystem, capability: Capability) -> None:
    """Refuse plainly, before any call, what the practice's system does not offer."""
    if capability not in system.capabilities:
        raise NotAvailableAtPractice(capability)
