"""The GP Connect adapter: one practice's system behind the `GPSystem` port.

Every call goes to NHS England's patient-facing APIs with the patient's own access
token; the patient is addressed by NHS number, which is their `patient_ref` here:
- linkage by demographics and the Patient: a structured-record request naming only
  `patientNHSNumber` (no "read a patient" exists in these APIs);
- appointments (Appointments API, FHIR STU3): search free slots, book, cancel (PUT),
  list future appointments;
- repeat prescriptions (prescriptions API, FHIR R4): courses as MedicationRequest,
  requests as Task (order and list);
- the record (Access Record API, FHIR STU3): structured entries and documents;
- record access settings and the relationship's permissions (User Permissions API).

Derived rather than fetched, because GP Connect has no such interaction:
- relationships: the user's own record only (GP Connect has no proxy model);
- practice settings: from the practices file (name) and `people.default_settings`, which
  the practices file's `policy` overrides;
- cancellation reasons: none (GP Connect takes a free-text reason).

Declared absent (`capabilities`) and refused with `NotAvailableAtPractice`, never invented:
- nominated pharmacy, messages to the practice;
- cancelling a prescription request (the prescriptions API defines no cancel);
- proxies (GP Connect has no proxy model; the patient-facing APIs' user is the patient).

Each API has its own base URL (`PracticeConfig.endpoints`), so its own client.
`link_by_credentials` raises `LinkageMethodUnsupported`: NHS login's IM1 linkage key means nothing
to GP Connect.
"""

from __future__ import annotations

from datetime import date

from app.adapters.gpconnect.appointments import AppointmentsMixin
from app.adapters.gpconnect.base import GPConnectClients
from app.adapters.gpconnect.people import PeopleMixin, default_settings
from app.adapters.gpconnect.prescriptions import PrescriptionsMixin
from app.adapters.gpconnect.record import RecordMixin
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import Capability, PracticeMessage, ProxyGrant

__all__ = ["GPConnectAdapter", "GPConnectClients", "default_settings"]


class GPConnectAdapter(PeopleMixin, AppointmentsMixin, PrescriptionsMixin, RecordMixin):
    """One practice's system over GP Connect: each capability in a file of its own."""

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        raise NotAvailableAtPractice(Capability.PRACTICE_MESSAGES, supplier_code="NOT_SUPPORTED")

    # Access changes a practice approved are set in its clinical system: GP Connect (and the
    # User Permissions API, which only reads) has no interaction for them.

    async def grant_historic_access(
        self, patient_ref: str, *, from_date: date | None, actor_ref: str
    ) -> None:
        raise NotAvailableAtPractice(Capability.ACCESS_CHANGES, supplier_code="NOT_SUPPORTED")

    async def grant_detailed_coded_access(self, patient_ref: str, *, actor_ref: str) -> None:
        raise NotAvailableAtPractice(Capability.ACCESS_CHANGES, supplier_code="NOT_SUPPORTED")

    async def create_proxy_relationship(self, grant: ProxyGrant) -> None:
        raise NotAvailableAtPractice(Capability.ACCESS_CHANGES, supplier_code="NOT_SUPPORTED")
