"""Linkage, relationships and practice settings over GP Connect (Foundations)."""

from __future__ import annotations

from datetime import timedelta

from app.adapters.gpconnect import fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.appointments import MAX_SLOT_SEARCH
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.gp.errors import LinkageMethodUnsupported, PatientNotFound
from app.gp.types import (
    BookingReasonPolicy,
    DemographicMatch,
    GPCredentials,
    LinkedUser,
    Permissions,
    PracticeSettings,
    RecordAccessLevel,
    Relationship,
    RelationshipKind,
)

CREDENTIALS_NOT_OFFERED = (
    "Your GP practice's system does not use NHS login linkage details. "
    "Please sign in again so that we can find your record by your NHS number."
)


def default_settings(ods_code: str, name: str) -> PracticeSettings:
    """What a practice on GP Connect allows, where GP Connect does not say.

    Each value is a conservative default that the practices file's `policy` overrides.
    """
    return PracticeSettings(
        ods_code=ods_code,
        name=name,
        appointments_enabled=True,
        prescriptions_enabled=True,
        # GP Connect does not expose record access settings (Capability.RECORD_ACCESS_SETTINGS).
        record_enabled=False,
        booking_reason=BookingReasonPolicy.OPTIONAL,
        # Appointment.description is capped at 100 characters by the spec, and a temporary
        # contact number shares it ("Tel: " + number).
        booking_reason_max_length=75,
        max_future_appointments=4,
        booking_window=timedelta(days=28),
        default_search_window=MAX_SLOT_SEARCH,
        cancellation_cutoff=timedelta(hours=1),
        has_cancellation_reasons=False,
        max_prescription_items=10,
        prescription_note_max_length=500,
        minimum_reorder_interval=timedelta(0),
    )


class PeopleMixin(GPConnectBase):
    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        raise LinkageMethodUnsupported(CREDENTIALS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        """Find a patient by NHS number, then check surname and date of birth agree."""
        bundle = await self._clients.appointments.send(
            "GET",
            "Patient",
            interaction=wire.SEARCH_PATIENT,
            params=[("identifier", f"{wire.NHS_NUMBER_SYSTEM}|{match.nhs_number}")],
        )
        with wire_shape():
            candidates = [
                fhir.patient_from_fhir(resource, ods_code=self._ods_code)
                for resource in fhir.bundle_resources(resource(bundle, "Bundle"), "Patient")
            ]
        for patient in candidates:
            if (
                patient.nhs_number == match.nhs_number
                and patient.family_name.casefold() == match.family_name.strip().casefold()
                and patient.birth_date == match.birth_date
            ):
                self._remember(patient)
                return LinkedUser(
                    user_ref=patient.patient_ref,
                    ods_code=self._ods_code,
                    nhs_number=patient.nhs_number,
                )
        raise PatientNotFound()

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        """Only the user's own record: GP Connect has no proxy (RelatedPerson) interaction."""
        patient = await self.get_patient(user_ref)
        return [
            Relationship(
                patient=patient,
                kind=RelationshipKind.SELF,
                permissions=Permissions(
                    appointments=True,
                    prescriptions=True,
                    record_level=RecordAccessLevel.NONE,
                ),
            )
        ]

    async def get_practice_settings(self) -> PracticeSettings:
        return default_settings(self._ods_code, self._practice_name)
