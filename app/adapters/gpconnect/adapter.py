"""The GP Connect adapter: one practice's system behind the `GPSystem` port.

Covered, over the wire:
- linkage by demographics, patient demographics (Foundations: Find / Read a patient);
- appointments (Appointment Management 1.2.x, FHIR STU3): search free slots, book,
  cancel (PUT with If-Match), list future appointments;
- repeat prescriptions (Patient Facing Prescriptions, FHIR R4): courses as
  MedicationRequest, requests as Task (order, list, cancel);
- record entries (Access Record Structured, FHIR STU3 $gpc.getstructuredrecord).

Derived rather than fetched, because GP Connect has no such interaction:
- relationships: the user's own record only (GP Connect has no proxy model);
- practice settings: from the practices file (name) and `people.default_settings`, which
  the practices file's `policy` overrides;
- cancellation reasons: none (GP Connect takes a free-text reason).

Declared absent (`capabilities`) and refused with `NotAvailableAtPractice`, never invented:
- record access settings (level, prospective/historic, declined, enhanced review);
- documents and document content, nominated pharmacy, messages to the practice.

Each service has its own endpoint (`PracticeConfig.endpoints`), so its own client.
`link_by_credentials` raises `LinkageMethodUnsupported`: NHS login's IM1 linkage key means nothing
to GP Connect.
"""

from __future__ import annotations

from app.adapters.gpconnect.appointments import AppointmentsMixin
from app.adapters.gpconnect.base import GPConnectClients
from app.adapters.gpconnect.people import PeopleMixin, default_settings
from app.adapters.gpconnect.prescriptions import PrescriptionsMixin
from app.adapters.gpconnect.record import RecordMixin
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import Capability, PracticeMessage

__all__ = ["GPConnectAdapter", "GPConnectClients", "default_settings"]


class GPConnectAdapter(PeopleMixin, AppointmentsMixin, PrescriptionsMixin, RecordMixin):
    """One practice's system over GP Connect: each capability in a file of its own."""

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        raise NotAvailableAtPractice(Capability.PRACTICE_MESSAGES, supplier_code="NOT_SUPPORTED")
