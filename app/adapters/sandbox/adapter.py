"""`SandboxGPSystem`: the port over one practice's simulated supplier.

The adapter's job is the one a real adapter has: call the supplier, translate
its error codes into the port's domain errors (keeping the code in
`supplier_code`), and turn a broken connection into `GPSystemUnavailable`.
It also injects the configured faults.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from app.adapters.sandbox.database import SandboxDatabase
from app.adapters.sandbox.faults import SandboxFaults
from app.adapters.sandbox.profiles import Refusal, SupplierProfile, domain_error
from app.adapters.sandbox.supplier import SimulatedSupplier, SupplierError
from app.gp.errors import GPSystemUnavailable
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


class SandboxGPSystem:
    """One practice's simulated GP system, behind the `GPSystem` port."""

    def __init__(
        self, supplier: SimulatedSupplier, database: SandboxDatabase, faults: SandboxFaults
    ) -> None:
        self.supplier = supplier
        self.database = database
        self.faults = faults

    @property
    def ods_code(self) -> str:
        return self.supplier.ods_code

    @property
    def profile(self) -> SupplierProfile:
        return self.supplier.profile

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        unavailable = self.profile.code(Refusal.UNAVAILABLE)
        await self.faults.inject(unavailable)
        try:
            await self.database.ensure_ready()
            return await operation()
        except SupplierError as exc:
            raise domain_error(self.profile, exc.code, exc.course_id) from None
        except (SQLAlchemyError, OSError) as exc:
            logger.warning(
                "sandbox GP system database error",
                extra={"ods_code": self.ods_code, "error": type(exc).__name__},
            )
            raise GPSystemUnavailable(supplier_code=unavailable) from exc

    # --- linkage and people ---------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        return await self._call(lambda: self.supplier.link_by_credentials(credentials))

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        return await self._call(lambda: self.supplier.link_by_demographics(match))

    async def get_patient(self, patient_ref: str) -> Patient:
        return await self._call(lambda: self.supplier.get_patient(patient_ref))

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        return await self._call(lambda: self.supplier.list_relationships(user_ref))

    async def get_practice_settings(self) -> PracticeSettings:
        return await self._call(self.supplier.get_practice_settings)

    # --- appointments -----------------------------------------------------

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
    ) -> list[Slot]:
        return await self._call(
            lambda: self.supplier.search_slots(
                start, end, appointment_type=appointment_type, clinician=clinician
            )
        )

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        return await self._call(lambda: self.supplier.list_appointments(patient_ref))

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        return await self._call(lambda: self.supplier.book_appointment(request))

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        return await self._call(
            lambda: self.supplier.cancel_appointment(
                patient_ref, appointment_id, reason_code=reason_code, actor_ref=actor_ref
            )
        )

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return await self._call(self.supplier.list_cancellation_reasons)

    # --- prescriptions --------------------------------------------------------

    async def list_courses(self, patient_ref: str) -> list[Course]:
        return await self._call(lambda: self.supplier.list_courses(patient_ref))

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        return await self._call(lambda: self.supplier.list_prescription_requests(patient_ref))

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._call(
            lambda: self.supplier.request_prescription(
                patient_ref, course_ids, note=note, actor_ref=actor_ref
            )
        )

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        return await self._call(
            lambda: self.supplier.cancel_prescription_request(
                patient_ref, request_id, actor_ref=actor_ref
            )
        )

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        return await self._call(lambda: self.supplier.get_nominated_pharmacy(patient_ref))

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        return await self._call(
            lambda: self.supplier.set_nominated_pharmacy(
                patient_ref, pharmacy_ods_code, actor_ref=actor_ref
            )
        )

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        return await self._call(lambda: self.supplier.get_record_access(patient_ref))

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        return await self._call(lambda: self.supplier.list_record_entries(patient_ref, section))

    async def list_documents(self, patient_ref: str) -> list[Document]:
        return await self._call(lambda: self.supplier.list_documents(patient_ref))

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        return await self._call(
            lambda: self.supplier.get_document_content(patient_ref, document_id)
        )

    # --- messages -----------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        return await self._call(lambda: self.supplier.send_message(patient_ref, message))


def find_sandbox(system: object) -> SandboxGPSystem:
    """The sandbox adapter inside a registry's wrapped system (for tests and demos).

    `find_sandbox(registry.for_practice("A81001")).faults.outage = True`.
    Raises `LookupError` when the practice is not served by the sandbox.
    """
    current: object | None = system
    while current is not None:
        if isinstance(current, SandboxGPSystem):
            return current
        current = getattr(current, "_inner", None)
    raise LookupError("that practice is not served by the sandbox adapter")
