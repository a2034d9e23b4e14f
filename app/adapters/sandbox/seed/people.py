"""The practices (with their settings), the patients and their proxy relationships."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.adapters.sandbox.personas import (
    PRACTICE_NAMES,
    PRACTICE_PROFILES,
    SeedPatient,
    SeedRelationship,
)
from app.adapters.sandbox.profiles import get_profile


@dataclass(frozen=True, slots=True)
class PracticeSeed:
    ods_code: str
    name: str
    profile: str


DEFAULT_PRACTICES = tuple(
    PracticeSeed(ods, PRACTICE_NAMES[ods], PRACTICE_PROFILES[ods]) for ods in PRACTICE_NAMES
)


def practices_to_seed(configured: Iterable[PracticeSeed]) -> list[PracticeSeed]:
    """The three persona practices (named as configured) plus any other configured ones."""
    by_code = {practice.ods_code: practice for practice in DEFAULT_PRACTICES}
    for practice in configured:
        by_code[practice.ods_code] = practice
    return sorted(by_code.values(), key=lambda practice: practice.ods_code)


def practice_row(practice: PracticeSeed) -> dict[str, Any]:
    defaults = get_profile(practice.profile).defaults
    return {
        "ods_code": practice.ods_code,
        "name": practice.name,
        "profile": practice.profile,
        "appointments_enabled": True,
        "prescriptions_enabled": True,
        "record_enabled": True,
        "booking_reason": defaults.booking_reason.value,
        "booking_reason_max_length": defaults.booking_reason_max_length,
        "max_future_appointments": defaults.max_future_appointments,
        "booking_window_days": defaults.booking_window_days,
        "default_search_days": defaults.default_search_days,
        "cancellation_cutoff_minutes": defaults.cancellation_cutoff_minutes,
        "max_prescription_items": defaults.max_prescription_items,
        "prescription_note_max_length": defaults.prescription_note_max_length,
        "minimum_reorder_days": defaults.minimum_reorder_days,
        "prescription_note_required": defaults.prescription_note_required,
    }


def patient_row(patient: SeedPatient) -> dict[str, Any]:
    return {
        "patient_ref": patient.patient_ref,
        "ods_code": patient.ods_code,
        "nhs_number": patient.nhs_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
        "tags": " ".join(patient.tags),
        "online_account": patient.online_account,
        "identity_level": patient.identity_level,
        "gp_user_id": patient.gp_user_id,
        "gp_linkage_key": patient.gp_linkage_key,
        "email": patient.email,
        "phone_number": patient.phone_number,
        "record_summary": patient.record_summary,
        "record_detailed_coded": patient.record_detailed_coded,
        "prospective_from": patient.prospective_from,
        "historic_access": patient.historic_access,
        "unavailable_sections": " ".join(patient.unavailable_sections),
        "declined": patient.declined,
        "enhanced_review": patient.enhanced_review,
        "nominated_pharmacy": patient.nominated_pharmacy,
        "lock_version": 0,
    }


def relationship_row(rel: SeedRelationship) -> dict[str, Any]:
    return {
        "user_ref": rel.user_ref,
        "patient_ref": rel.patient_ref,
        "kind": rel.kind.value,
        "appointments": rel.appointments,
        "prescriptions": rel.prescriptions,
        "record_level": rel.record_level.value,
        "record_from": rel.record_from,
        "record_historic": rel.record_historic,
        "starts_on": rel.starts_on,
        "ends_on": rel.ends_on,
        "review_recorded": rel.review_recorded,
    }
