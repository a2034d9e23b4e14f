"""What every part of the GP Connect adapter shares: its clients, the practice, and
the patients it has read.

The adapter is split by capability (`people.py`, `appointments.py`,
`prescriptions.py`, `record.py`, `permissions.py`), each a mixin over this base, so
each capability's wire rules have one short home.

Every call goes to one of NHS England's patient-facing APIs with the patient's own
access token, and each addresses the patient by NHS number: at a GP Connect practice
`patient_ref` *is* the NHS number (NHS login's, verified at P9). There is no "read a
patient" in these APIs: the Patient comes from a structured-record request naming only
`patientNHSNumber` (every structured-record response carries the Patient resource).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from app.adapters.gpconnect import fhir, fhir_record
from app.adapters.gpconnect.patient_facing import PatientFacingClient
from app.clock import Clock
from app.gp.errors import GPSystemUnavailable, PatientNotFound
from app.gp.types import Capability, Patient

logger = logging.getLogger(__name__)

NHS_NUMBER_CACHE_SIZE = 1024


@contextlib.contextmanager
def wire_shape() -> Iterator[None]:
    """A response that does not have the shape the spec promises is a provider fault."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("GP Connect response was malformed", extra={"error": type(exc).__name__})
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE") from None


def resource(payload: Any, resource_type: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("resourceType") != resource_type:
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
    return payload


def is_nhs_number(value: str) -> bool:
    """Ten digits with a valid modulus 11 check digit (NHS Data Dictionary)."""
    if len(value) != 10 or not value.isdigit():
        return False
    total = sum(int(digit) * (10 - place) for place, digit in enumerate(value[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(value[9])


def patient_in_bundle(bundle: Any, nhs_number: str, *, ods_code: str) -> Patient:
    """The Patient with this NHS number in a structured-record Bundle, its `patient_ref`
    the NHS number. Another patient, or none, is `PatientNotFound`: never shown."""
    with wire_shape():
        for item in fhir.bundle_resources(resource(bundle, "Bundle"), "Patient"):
            if fhir.nhs_number_of(item) == nhs_number:
                patient = fhir.patient_from_fhir(item, ods_code=ods_code)
                return replace(patient, patient_ref=nhs_number)
    raise PatientNotFound()


@dataclass(frozen=True, slots=True)
class GPConnectClients:
    """One client per patient-facing API, each with its own base URL, each called with the
    patient's own access token (docs/decisions/0007-gpconnect-patient-facing-prescriptions.md)."""

    appointments: PatientFacingClient
    prescriptions: PatientFacingClient
    record: PatientFacingClient  # the structured record, documents and patient look-ups
    permissions: PatientFacingClient  # User Permissions


class GPConnectBase:
    """One practice over GP Connect. Stateless apart from a bounded cache of patients."""

    # What the patient-facing APIs define (see `Capability`): the record access settings
    # (User Permissions) and documents (Access Record). The prescriptions API defines no
    # cancel, GP Connect no proxy model, nomination or messages.
    CAPABILITIES: frozenset[Capability] = frozenset(
        {Capability.RECORD_ACCESS_SETTINGS, Capability.DOCUMENTS}
    )

    def __init__(
        self,
        clients: GPConnectClients,
        *,
        ods_code: str,
        practice_name: str,
        booking_organisation: fhir.BookingOrganisation,
        clock: Clock,
    ) -> None:
        self._clients = clients
        self._ods_code = ods_code
        self._practice_name = practice_name
        self._organisation = booking_organisation
        self._clock = clock
        # Patients read (linkage, get_patient), for their name on a prescription request:
        # within bounds.
        self._patients: OrderedDict[str, Patient] = OrderedDict()

    @property
    def ods_code(self) -> str:
        return self._ods_code

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.CAPABILITIES

    async def get_patient(self, patient_ref: str) -> Patient:
        """The Patient from a structured-record request naming only `patientNHSNumber`."""
        nhs_number = self._nhs_number(patient_ref)
        bundle = await self._clients.record.send(
            "POST",
            "Patient/$gpc.getstructuredrecord",
            nhs_number=nhs_number,
            # Nothing clinical asked for: every response carries the Patient.
            body=fhir_record.structured_record_parameters(nhs_number),
        )
        patient = patient_in_bundle(bundle, nhs_number, ods_code=self._ods_code)
        self._remember(patient)
        return patient

    def _remember(self, patient: Patient) -> None:
        self._patients[patient.patient_ref] = patient
        self._patients.move_to_end(patient.patient_ref)
        while len(self._patients) > NHS_NUMBER_CACHE_SIZE:
            self._patients.popitem(last=False)

    async def _patient(self, patient_ref: str) -> Patient:
        known = self._patients.get(patient_ref)
        if known is not None:
            self._patients.move_to_end(patient_ref)
            return known
        return await self.get_patient(patient_ref)

    @staticmethod
    def _nhs_number(patient_ref: str) -> str:
        """At a GP Connect practice the patient is known by NHS number; anything else is a
        patient this practice does not have (no call is made for it)."""
        if not is_nhs_number(patient_ref):
            raise PatientNotFound()
        return patient_ref
