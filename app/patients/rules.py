"""Proxy access rules, applied centrally whatever the GP system says.

Pure functions of a relationship, today's date and practice policy, so that
every patient-scoped route sees the same answer and the rules are unit-tested.
Sources: NHS England "GP online services: proxy access" guidance and the RCGP
GP Online Services Toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.gp.types import (
    AUTOMATIC_ACCESS_START,
    NO_RECORD_ACCESS,
    PracticeSettings,
    RecordAccess,
    RecordAccessLevel,
    RecordGrants,
    Relationship,
    RelationshipKind,
)

# Parental proxy access ends when the child turns 16, whatever the practice recorded.
PARENTAL_ACCESS_LIMIT_AGE = 16


class Unavailable(StrEnum):
    """Why a person, or one service, is not available to the one acting."""

    PROXY_ACCESS_ENDED = "proxy_access_ended"
    PROXY_ACCESS_NOT_STARTED = "proxy_access_not_started"
    PROXY_SUSPENDED_AT_16 = "proxy_suspended_at_16"
    PROXY_REVIEW_NEEDED = "proxy_review_needed"
    NOT_GRANTED = "not_granted"
    NOT_OFFERED_BY_PRACTICE = "not_offered_by_practice"
    ONLINE_ACCESS_DECLINED = "online_access_declined"
    ENHANCED_REVIEW = "enhanced_review"
    PATIENT_ONLY = "patient_only"
    PROXY_CANNOT_CHANGE_PHARMACY = "proxy_cannot_change_pharmacy"
    RECORD_ACCESS_NOT_REPORTED = "record_access_not_reported"


EXPLANATIONS: dict[Unavailable, str] = {
    Unavailable.PROXY_ACCESS_ENDED: "Your access on behalf of this person has ended.",
    Unavailable.PROXY_ACCESS_NOT_STARTED: (
        "Your access on behalf of this person has not started yet."
    ),
    Unavailable.PROXY_SUSPENDED_AT_16: (
        "Parents' online access stops when a young person turns 16. "
        "They can now use GP online services themselves."
    ),
    Unavailable.PROXY_REVIEW_NEEDED: (
        "Your access is paused until the practice reviews it, as it does for every young "
        "person at this age. Please contact the practice."
    ),
    Unavailable.NOT_GRANTED: "The practice has not given you access to this service.",
    Unavailable.NOT_OFFERED_BY_PRACTICE: "This practice does not offer this service online.",
    Unavailable.ONLINE_ACCESS_DECLINED: (
        "Online access to this record is not available. Contact the practice to talk about it."
    ),
    Unavailable.ENHANCED_REVIEW: (
        "The practice needs to review this record before it can be shown online. "
        "Contact the practice to ask about access."
    ),
    Unavailable.PATIENT_ONLY: "Only the patient can use this, not someone acting for them.",
    Unavailable.PROXY_CANNOT_CHANGE_PHARMACY: (
        "Only the patient can change their nominated pharmacy. People acting for them can "
        "see it, but not change it."
    ),
    Unavailable.RECORD_ACCESS_NOT_REPORTED: (
        "The practice's GP system has not told us what of this record can be shown online, "
        "so none of it is shown. Contact the practice to ask about online access."
    ),
}


class AgeBand(StrEnum):
    UNDER_11 = "under_11"
    AGE_11_TO_15 = "11_to_15"
    AGE_16_TO_17 = "16_to_17"
    ADULT = "adult"


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def age_band(birth_date: date, today: date) -> AgeBand:
    age = age_on(birth_date, today)
    if age < 11:
        return AgeBand.UNDER_11
    if age < 16:
        return AgeBand.AGE_11_TO_15
    if age < 18:
        return AgeBand.AGE_16_TO_17
    return AgeBand.ADULT


def relationship_unavailable(
    relationship: Relationship, today: date, review_age: int
) -> Unavailable | None:
    """Why the whole relationship is unusable today, or None when it is in force."""
    if relationship.kind is RelationshipKind.SELF:
        return None
    if relationship.starts_on is not None and today < relationship.starts_on:
        return Unavailable.PROXY_ACCESS_NOT_STARTED
    # The end date is the first day without access.
    if relationship.ends_on is not None and today >= relationship.ends_on:
        return Unavailable.PROXY_ACCESS_ENDED
    if relationship.kind is RelationshipKind.PARENT:
        age = age_on(relationship.patient.birth_date, today)
        if age >= PARENTAL_ACCESS_LIMIT_AGE:
            return Unavailable.PROXY_SUSPENDED_AT_16
        # At the local review age the practice must confirm the parent's access continues.
        if age >= review_age and not relationship.review_recorded:
            return Unavailable.PROXY_REVIEW_NEEDED
    return None


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    allowed: bool
    unavailable: Unavailable | None = None

    @classmethod
    def denied(cls, reason: Unavailable) -> ServiceAccess:
        return cls(False, reason)


ALLOWED = ServiceAccess(True)


@dataclass(frozen=True, slots=True)
class Access:
    """What the person acting may do for one patient, and why not where they may not."""

    unavailable: Unavailable | None  # the whole relationship, when set
    appointments: ServiceAccess
    prescriptions: ServiceAccess
    record_level: RecordAccessLevel
    record: ServiceAccess
    change_pharmacy: ServiceAccess
    patient_only: ServiceAccess  # e.g. "who viewed my record"
    # What of the record this viewer may see (`app.records.policy` applies it).
    record_grants: RecordGrants = NO_RECORD_ACCESS


def _service(offered: bool, granted: bool) -> ServiceAccess:
    if not offered:
        return ServiceAccess.denied(Unavailable.NOT_OFFERED_BY_PRACTICE)
    if not granted:
        return ServiceAccess.denied(Unavailable.NOT_GRANTED)
    return ALLOWED


def record_grants(relationship: Relationship, patient_access: RecordAccess | None) -> RecordGrants:
    """The parts of the record the one acting may see, before the practice's on/off switch.

    `patient_access` is the patient's own settings, as their GP system reported them;
    none reported means no record, never a default. A proxy gets what the practice
    granted that proxy, within what the patient may see themself: a proxy never sees
    an entry the patient could not, and their full record never starts earlier than
    the patient's own (1 November 2023, or the patient's registration if later).
    """
    if patient_access is None:
        return NO_RECORD_ACCESS
    permissions = relationship.permissions
    patient = patient_access.grants
    if relationship.kind is RelationshipKind.SELF:
        # The patient's own settings, never wider than the relationship's level.
        return patient.capped_at(permissions.record_level)
    granted = RecordGrants.at_level(
        permissions.record_level,
        # No date of the proxy's own: the full record starts where the patient's does.
        full_from=permissions.record_from or patient.full_from or AUTOMATIC_ACCESS_START,
        historic=permissions.record_historic,
    )
    return granted.within(patient)


def _record(
    relationship: Relationship, practice: PracticeSettings, patient_access: RecordAccess | None
) -> tuple[RecordGrants, ServiceAccess]:
    if not practice.record_enabled:
        return NO_RECORD_ACCESS, ServiceAccess.denied(Unavailable.NOT_OFFERED_BY_PRACTICE)
    if relationship.permissions.record_level is RecordAccessLevel.NONE:
        return NO_RECORD_ACCESS, ServiceAccess.denied(Unavailable.NOT_GRANTED)
    if patient_access is None:
        # The GP system did not say what may be shown: show nothing.
        return NO_RECORD_ACCESS, ServiceAccess.denied(Unavailable.RECORD_ACCESS_NOT_REPORTED)
    if patient_access.declined or patient_access.enhanced_review:
        # Declined, or flagged for enhanced review: no automatic record access, for the
        # patient or anyone acting for them (the one acting may be the reason for the
        # flag). A proxy is told only that they have no access: the patient's decision,
        # and the practice's concern, are not theirs to learn.
        if relationship.kind is not RelationshipKind.SELF:
            return NO_RECORD_ACCESS, ServiceAccess.denied(Unavailable.NOT_GRANTED)
        reason = (
            Unavailable.ONLINE_ACCESS_DECLINED
            if patient_access.declined
            else Unavailable.ENHANCED_REVIEW
        )
        return NO_RECORD_ACCESS, ServiceAccess.denied(reason)
    grants = record_grants(relationship, patient_access)
    if grants.level is RecordAccessLevel.NONE:
        return NO_RECORD_ACCESS, ServiceAccess.denied(Unavailable.NOT_GRANTED)
    return grants, ALLOWED


def effective_access(
    relationship: Relationship,
    *,
    today: date,
    review_age: int,
    practice: PracticeSettings,
    patient_record_access: RecordAccess | None = None,
) -> Access:
    """Combine the relationship, the central proxy rules and the practice's policy.

    `patient_record_access` is the patient's own record settings (for a proxy too: the
    patient's refusals and flags bind everyone acting for them); None, when not reported,
    shows no record.
    """
    suspended = relationship_unavailable(relationship, today, review_age)
    if suspended is not None:
        denied = ServiceAccess.denied(suspended)
        return Access(suspended, denied, denied, RecordAccessLevel.NONE, denied, denied, denied)
    is_self = relationship.kind is RelationshipKind.SELF
    permissions = relationship.permissions
    grants, record = _record(relationship, practice, patient_record_access)
    self_only = ALLOWED if is_self else ServiceAccess.denied(Unavailable.PATIENT_ONLY)
    prescriptions = _service(practice.prescriptions_enabled, permissions.prescriptions)
    # Proxies cannot change the nominated pharmacy (GP online services: proxy access); the
    # patient can where the practice offers prescriptions online, as for seeing it.
    pharmacy = (
        prescriptions if is_self else ServiceAccess.denied(Unavailable.PROXY_CANNOT_CHANGE_PHARMACY)
    )
    return Access(
        unavailable=None,
        appointments=_service(practice.appointments_enabled, permissions.appointments),
        prescriptions=prescriptions,
        record_level=grants.level,
        record=record,
        change_pharmacy=pharmacy,
        patient_only=self_only,
        record_grants=grants,
    )
