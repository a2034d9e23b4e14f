"""What every part of the GP Connect adapter shares: its clients, the practice, and
the patients it has read.

The adapter is split by capability (`people.py`, `appointments.py`,
`prescriptions.py`, `record.py`), each a mixin over this base, so each
capability's wire rules have one short home.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.adapters.gpconnect import fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.client import GPConnectClient
from app.clock import Clock
from app.gp.errors import GPSystemUnavailable
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


@dataclass(frozen=True, slots=True)
class GPConnectClients:
    """One client per GP Connect service: each has its own endpoint and JWT audience."""

    appointments: GPConnectClient  # also Foundations (patient look-ups)
    prescriptions: GPConnectClient
    record: GPConnectClient


class GPConnectBase:
    """One practice over GP Connect. Stateless apart from a bounded NHS number cache."""

    # GP Connect has no interaction for the rest (see `Capability`).
    CAPABILITIES = frozenset({Capability.CANCEL_PRESCRIPTION_REQUEST})

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
        # Prescriptions (R4) and the structured record address the patient by NHS number,
        # appointments by the provider's logical id: remember the pairing, within bounds.
        self._nhs_numbers: OrderedDict[str, str] = OrderedDict()

    @property
    def ods_code(self) -> str:
        return self._ods_code

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.CAPABILITIES

    async def get_patient(self, patient_ref: str) -> Patient:
        payload = await self._clients.appointments.send(
            "GET", f"Patient/{patient_ref}", interaction=wire.READ_PATIENT
        )
        with wire_shape():
            patient = fhir.patient_from_fhir(resource(payload, "Patient"), ods_code=self._ods_code)
        self._remember(patient)
        return patient

    def _remember(self, patient: Patient) -> None:
        self._nhs_numbers[patient.patient_ref] = patient.nhs_number
        self._nhs_numbers.move_to_end(patient.patient_ref)
        while len(self._nhs_numbers) > NHS_NUMBER_CACHE_SIZE:
            self._nhs_numbers.popitem(last=False)

    async def _nhs_number(self, patient_ref: str) -> str:
        known = self._nhs_numbers.get(patient_ref)
        if known is not None:
            self._nhs_numbers.move_to_end(patient_ref)
            return known
        return (await self.get_patient(patient_ref)).nhs_number
