"""Linkage, relationships and practice settings over GP Connect's patient-facing APIs.

The patient is NHS login's, verified at P9, so their NHS number needs no search: it is
their `patient_ref`. Linkage checks surname and birth date against the Patient that a
structured-record request returns; relationships carry the patient's permissions from
the User Permissions API (`permissions.py`).
"""

from __future__ import annotations

from datetime import timedelta

from app.adapters.gpconnect.appointments import MAX_SLOT_SEARCH
from app.adapters.gpconnect.permissions import PermissionsMixin
from app.gp.errors import LinkageMethodUnsupported, PatientNotFound
from app.gp.types import (
    BookingReasonPolicy,
    DemographicMatch,
    GPCredentials,
    LinkedUser,
    PracticeSettings,
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
        # The User Permissions API reports each patient's record access (`permissions.py`),
        # which the visibility policy applies.
        record_enabled=True,
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


class PeopleMixin(PermissionsMixin):
    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        raise LinkageMethodUnsupported(CREDENTIALS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        """The NHS number is NHS login's (P9); the practice's Patient for it, from a minimal
        structured-record request, must agree on surname and date of birth."""
        patient = await self.get_patient(match.nhs_number)
        if (
            patient.family_name.casefold() != match.family_name.strip().casefold()
            or patient.birth_date != match.birth_date
        ):
            raise PatientNotFound()
        return LinkedUser(
            user_ref=patient.patient_ref, ods_code=self._ods_code, nhs_number=patient.nhs_number
        )

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        """Only the user's own record: GP Connect has no proxy (RelatedPerson) interaction.
        Their permissions are the User Permissions API's (`permissions.py`)."""
        patient = await self._patient(user_ref)
        permissions = await self.relationship_permissions(user_ref)
        return [Relationship(patient=patient, kind=RelationshipKind.SELF, permissions=permissions)]

    async def get_practice_settings(self) -> PracticeSettings:
        return default_settings(self._ods_code, self._practice_name)
