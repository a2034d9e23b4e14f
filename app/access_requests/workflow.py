"""The life of an application for more access: its statuses and the changes allowed.

Pure: the service asks `check_change` before it writes anything, so a change this
table does not list is refused whoever asks. RCGP GP Online Services Toolkit: the
practice verifies identity, then reviews the record clinically, then decides; a
proxy applying with the patient's consent waits for that consent first (DAPB3051).

    submitted ─▶ identity_verified ─▶ under_clinical_review ─▶ approved ─▶ applied
        ▲                                                         └────────▶ applied
    awaiting_patient_consent (a proxy on consent, patient 16 or over)

Any open application may be rejected (by the practice, or by the patient refusing
consent) or withdrawn by the applicant; `rejected`, `withdrawn` and `applied` are
final. `under_clinical_review` means the review's outcome is recorded and the
decision is due.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from app.gp.types import RecordAccessLevel, RelationshipKind
from app.patients.rules import PARENTAL_ACCESS_LIMIT_AGE, age_on


class ApplicationKind(StrEnum):
    HISTORIC_RECORD = "historic_record"
    DETAILED_CODED = "detailed_coded"
    PROXY = "proxy"


class Status(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_PATIENT_CONSENT = "awaiting_patient_consent"
    IDENTITY_VERIFIED = "identity_verified"
    UNDER_CLINICAL_REVIEW = "under_clinical_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    APPLIED = "applied"


FINAL = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.APPLIED})
OPEN = frozenset(Status) - FINAL - {Status.APPROVED}

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.AWAITING_PATIENT_CONSENT: frozenset(
        {Status.SUBMITTED, Status.REJECTED, Status.WITHDRAWN}
    ),
    Status.SUBMITTED: frozenset({Status.IDENTITY_VERIFIED, Status.REJECTED, Status.WITHDRAWN}),
    Status.IDENTITY_VERIFIED: frozenset(
        {Status.UNDER_CLINICAL_REVIEW, Status.REJECTED, Status.WITHDRAWN}
    ),
    Status.UNDER_CLINICAL_REVIEW: frozenset({Status.APPROVED, Status.REJECTED, Status.WITHDRAWN}),
    Status.APPROVED: frozenset({Status.APPLIED}),
    Status.REJECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.APPLIED: frozenset(),
}


class Basis(StrEnum):
    """On what a proxy acts (RCGP GP Online Services Toolkit, proxy access)."""

    PATIENT_CONSENT = "patient_consent"
    PARENTAL_RESPONSIBILITY = "parental_responsibility"
    LASTING_POWER_OF_ATTORNEY = "lasting_power_of_attorney"
    COURT_APPOINTED_DEPUTY = "court_appointed_deputy"


# The bases that rest on a legal document, whose reference the application carries.
DOCUMENTED = frozenset({Basis.LASTING_POWER_OF_ATTORNEY, Basis.COURT_APPOINTED_DEPUTY})


class IdentityMethod(StrEnum):
    NHS_LOGIN_P9 = "nhs_login_p9"
    PHOTO_DOCUMENTS = "photo_documents"
    VOUCHING = "vouching"
    VOUCHING_WITH_CONFIRMATION = "vouching_with_confirmation"


class ClinicalOutcome(StrEnum):
    APPROVED = "approved"
    APPROVED_WITH_HIDDEN_ENTRIES = "approved_with_hidden_entries"
    REJECTED = "rejected"


class RejectedBy(StrEnum):
    PRACTICE = "practice"
    PATIENT = "patient"  # the patient refused their consent


class CompetenceOutcome(StrEnum):
    """A young person's (11 to 15) competence, as the practice assessed it (Gillick)."""

    NOT_COMPETENT = "not_competent"  # the parent's access may go ahead
    COMPETENT_AGREES = "competent_agrees"
    COMPETENT_DISAGREES = "competent_disagrees"  # no parental access against their wish


class ProxyRecordLevel(StrEnum):
    NONE = "none"
    SUMMARY = "summary"
    DETAILED = "detailed"
    FULL = "full"

    @property
    def level(self) -> RecordAccessLevel:
        return RecordAccessLevel(self.value)


# The relationships an applicant may name (never `self`).
PROXY_RELATIONSHIPS = tuple(kind for kind in RelationshipKind if kind is not RelationshipKind.SELF)

# A young person's competence is assessed from this age until parental access ends at 16.
COMPETENCE_AGE = 11
ADULT_AGE = 18


def may_change(current: Status, to: Status) -> bool:
    return to in ALLOWED[current]


def initial_status(kind: ApplicationKind, basis: Basis | None, patient_age: int) -> Status:
    """Waiting for the patient's consent where a proxy applies on it; else submitted."""
    if (
        kind is ApplicationKind.PROXY
        and basis is Basis.PATIENT_CONSENT
        and patient_age >= PARENTAL_ACCESS_LIMIT_AGE
    ):
        return Status.AWAITING_PATIENT_CONSENT
    return Status.SUBMITTED


class Ineligible(StrEnum):
    """Why a proxy application cannot be made as it stands (each a 422 code)."""

    PARENTAL_RESPONSIBILITY_UNDER_16 = "parental_responsibility_under_16"
    CONSENT_NEEDS_16 = "consent_needs_16"
    ATTORNEY_NEEDS_ADULT = "attorney_needs_adult"
    DEPUTY_NEEDS_16 = "deputy_needs_16"
    DOCUMENT_REFERENCE_REQUIRED = "document_reference_required"
    DOCUMENT_REFERENCE_NOT_EXPECTED = "document_reference_not_expected"
    END_DATE_PASSED = "end_date_passed"
    NO_SERVICE = "no_service"


def proxy_ineligible(
    *,
    basis: Basis,
    birth_date: date,
    today: date,
    document_reference: str | None,
    ends_on: date | None,
    any_service: bool,
) -> Ineligible | None:
    """Why this proxy application cannot go to the practice, or None when it can.

    Parental responsibility is for a child under 16 (parental access ends at 16);
    consent is the patient's own from 16; a lasting power of attorney is made by an
    adult, a deputy appointed for someone 16 or over (Mental Capacity Act 2005).
    """
    age = age_on(birth_date, today)
    if basis is Basis.PARENTAL_RESPONSIBILITY and age >= PARENTAL_ACCESS_LIMIT_AGE:
        return Ineligible.PARENTAL_RESPONSIBILITY_UNDER_16
    if basis is Basis.PATIENT_CONSENT and age < PARENTAL_ACCESS_LIMIT_AGE:
        return Ineligible.CONSENT_NEEDS_16
    if basis is Basis.LASTING_POWER_OF_ATTORNEY and age < ADULT_AGE:
        return Ineligible.ATTORNEY_NEEDS_ADULT
    if basis is Basis.COURT_APPOINTED_DEPUTY and age < PARENTAL_ACCESS_LIMIT_AGE:
        return Ineligible.DEPUTY_NEEDS_16
    if basis in DOCUMENTED and not document_reference:
        return Ineligible.DOCUMENT_REFERENCE_REQUIRED
    if basis not in DOCUMENTED and document_reference:
        return Ineligible.DOCUMENT_REFERENCE_NOT_EXPECTED
    if ends_on is not None and ends_on <= today:
        return Ineligible.END_DATE_PASSED
    if not any_service:
        return Ineligible.NO_SERVICE
    return None


def needs_competence_assessment(basis: Basis | None, birth_date: date, today: date) -> bool:
    """A child 11 to 15: the practice assesses their competence before a parent's access."""
    return (
        basis is Basis.PARENTAL_RESPONSIBILITY
        and COMPETENCE_AGE <= age_on(birth_date, today) < PARENTAL_ACCESS_LIMIT_AGE
    )
