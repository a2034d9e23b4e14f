"""Request and response bodies of applications for more access, on both sides."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi.openapi.models import Example
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from app.access_requests import service
from app.access_requests.workflow import (
    ApplicationKind,
    Basis,
    ClinicalOutcome,
    CompetenceOutcome,
    IdentityMethod,
    ProxyRecordLevel,
    RejectedBy,
    Status,
)
from app.gp.types import RelationshipKind
from app.patients.service import mask_nhs_number
from app.schemas import IsoDate, IsoDateTime, RequestBody, ResponseBody

NAME_MAX_LENGTH = 100
REASON_MAX_LENGTH = 1000
DOCUMENT_REFERENCE_MAX_LENGTH = 100

ProxyRelationship = Literal["parent", "carer", "relative", "other"]

STATUS_DESCRIPTION = (
    "`submitted` (with the practice), `awaiting_patient_consent` (the patient has not "
    "answered yet), `identity_verified`, `under_clinical_review` (reviewed, decision due), "
    "`approved` (see `to_apply_in_clinical_system`), `rejected` (see `rejection_reason`), "
    "`withdrawn`, `applied` (the access is on)."
)


# --- what the applicant sends ---------------------------------------------------------------


class HistoricRecordIn(RequestBody):
    kind: Literal["historic_record"]
    entries_from: IsoDate | None = Field(
        default=None, description="The earliest entries you would like to see."
    )
    entries_to: IsoDate | None = Field(
        default=None, description="The latest of the older entries you would like to see."
    )

    def to_domain(self) -> service.HistoricRecordRequest:
        return service.HistoricRecordRequest(self.entries_from, self.entries_to)


class DetailedCodedIn(RequestBody):
    kind: Literal["detailed_coded"]

    def to_domain(self) -> service.DetailedCodedRequest:
        return service.DetailedCodedRequest()


def _nhs_number(value: str) -> str:
    """Ten digits whose last is the modulus 11 check digit of the nine before it."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        raise PydanticCustomError("nhs_number", "An NHS number is 10 digits.")
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    if (0 if check == 11 else check) != int(digits[9]):
        raise PydanticCustomError("nhs_number", "This is not a valid NHS number: check it.")
    return digits


NHSNumber = Annotated[
    str,
    Field(min_length=10, max_length=12, description="The patient's NHS number (10 digits)."),
    AfterValidator(_nhs_number),
]


class NamedPatientIn(RequestBody):
    nhs_number: NHSNumber
    given_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    family_name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    birth_date: IsoDate


class ProxyServicesIn(RequestBody):
    appointments: bool = False
    prescriptions: bool = False
    record: ProxyRecordLevel = Field(
        default=ProxyRecordLevel.NONE,
        description="How much of the record: never more than the patient may see themself.",
    )

    def to_domain(self) -> service.ProxyServices:
        return service.ProxyServices(self.appointments, self.prescriptions, self.record)


class ProxyIn(RequestBody):
    kind: Literal["proxy"]
    patient: NamedPatientIn = Field(
        description="Who you want to act for: as registered at your practice."
    )
    relationship: ProxyRelationship
    basis: Basis = Field(
        description="`patient_consent` (the patient, 16 or over, is asked in their own "
        "account), `parental_responsibility` (a child under 16), "
        "`lasting_power_of_attorney` or `court_appointed_deputy` (with the document's "
        "reference)."
    )
    services: ProxyServicesIn
    ends_on: IsoDate | None = Field(default=None, description="The first day without access.")
    document_reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=DOCUMENT_REFERENCE_MAX_LENGTH,
        description="The power of attorney's or court order's reference.",
    )

    def to_domain(self) -> service.ProxyRequest:
        patient = self.patient
        return service.ProxyRequest(
            patient=service.NamedPatient(
                patient.nhs_number, patient.given_name, patient.family_name, patient.birth_date
            ),
            relationship=RelationshipKind(self.relationship),
            basis=self.basis,
            services=self.services.to_domain(),
            ends_on=self.ends_on,
            document_reference=self.document_reference,
        )


AccessRequestIn = Annotated[
    HistoricRecordIn | DetailedCodedIn | ProxyIn, Field(discriminator="kind")
]

ACCESS_REQUEST_EXAMPLES: dict[str, Example] = {
    "historic_record": {
        "summary": "Your own older record",
        "value": {"kind": "historic_record", "entries_from": "2015-01-01"},
    },
    "detailed_coded": {
        "summary": "Your detailed coded record",
        "value": {"kind": "detailed_coded"},
    },
    "proxy": {
        "summary": "To act for someone else",
        "value": {
            "kind": "proxy",
            "patient": {
                "nhs_number": "9990000018",
                "given_name": "Alex",
                "family_name": "Morgan",
                "birth_date": "1990-04-01",
            },
            "relationship": "relative",
            "basis": "patient_consent",
            "services": {"appointments": True, "prescriptions": True, "record": "summary"},
            "ends_on": "2027-12-31",
        },
    },
}


# --- what the applicant and the patient see -------------------------------------------------


class ServicesOut(ResponseBody):
    appointments: bool
    prescriptions: bool
    record: ProxyRecordLevel


class NamedOut(ResponseBody):
    given_name: str
    family_name: str


class ProxyOut(ResponseBody):
    patient: NamedOut
    nhs_number_masked: str | None
    relationship: RelationshipKind | None
    basis: Basis | None
    services: ServicesOut | None
    ends_on: date | None
    document_reference: str | None
    competence_assessment_needed: bool = Field(
        description="The patient is 11 to 15: the practice assesses their competence first."
    )


class AccessRequestOut(ResponseBody):
    request_id: str
    kind: ApplicationKind
    status: Status = Field(description=STATUS_DESCRIPTION)
    created_at: datetime
    updated_at: datetime
    entries_from: date | None = None
    entries_to: date | None = None
    proxy: ProxyOut | None = None
    rejection_reason: str | None = None
    to_apply_in_clinical_system: bool = Field(
        description="Approved, and to be applied in the clinical system by the practice."
    )

    @classmethod
    def of(cls, application: service.Application) -> AccessRequestOut:
        details = application.details
        return cls(
            request_id=application.request_id,
            kind=application.kind,
            status=application.status,
            created_at=application.created_at,
            updated_at=application.updated_at,
            entries_from=details.entries_from,
            entries_to=details.entries_to,
            proxy=_proxy(application),
            rejection_reason=application.rejection_reason,
            to_apply_in_clinical_system=application.to_apply_in_clinical_system,
        )


def _services(application: service.Application) -> ServicesOut | None:
    services = application.details.services
    if services is None:
        return None
    return ServicesOut(
        appointments=services.appointments,
        prescriptions=services.prescriptions,
        record=services.record,
    )


def _proxy(application: service.Application) -> ProxyOut | None:
    if application.kind is not ApplicationKind.PROXY:
        return None
    patient = application.details.patient
    return ProxyOut(
        patient=NamedOut(given_name=patient.given_name, family_name=patient.family_name),
        nhs_number_masked=mask_nhs_number(patient.nhs_number) if patient.nhs_number else None,
        relationship=application.details.relationship,
        basis=application.basis,
        services=_services(application),
        ends_on=application.ends_on,
        document_reference=application.details.document_reference,
        competence_assessment_needed=application.competence_assessment_needed,
    )


class AccessRequestList(ResponseBody):
    items: list[AccessRequestOut]


class ConsentRequestOut(ResponseBody):
    """Someone asking to act for you: who, as what, for which services, until when."""

    request_id: str
    status: Status = Field(description=STATUS_DESCRIPTION)
    created_at: datetime
    applicant: NamedOut
    relationship: RelationshipKind | None
    services: ServicesOut | None
    ends_on: date | None

    @classmethod
    def of(cls, application: service.Application) -> ConsentRequestOut:
        applicant = application.details.applicant
        return cls(
            request_id=application.request_id,
            status=application.status,
            created_at=application.created_at,
            applicant=NamedOut(given_name=applicant.given_name, family_name=applicant.family_name),
            relationship=application.details.relationship,
            services=_services(application),
            ends_on=application.ends_on,
        )


class ConsentRequestList(ResponseBody):
    items: list[ConsentRequestOut]


# --- the practice's side ----------------------------------------------------------------------


class IdentityCheckIn(RequestBody):
    method: IdentityMethod
    checked_at: IsoDateTime | None = Field(
        default=None, description="When the check was made; now when not given."
    )


class ClinicalReviewIn(RequestBody):
    outcome: ClinicalOutcome
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=REASON_MAX_LENGTH,
        description="With `rejected`: the reason, as the applicant will read it.",
    )
    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=REASON_MAX_LENGTH,
        description="For the practice only: entries hidden, what was discussed.",
    )
    competence: CompetenceOutcome | None = Field(
        default=None, description="For a patient aged 11 to 15: the competence assessment."
    )

    def to_domain(self) -> service.ClinicalReview:
        return service.ClinicalReview(self.outcome, self.reason, self.note, self.competence)


class RejectionIn(RequestBody):
    reason: str = Field(
        min_length=1, max_length=REASON_MAX_LENGTH, description="As the applicant will read it."
    )


IDENTITY_CHECK_EXAMPLES: dict[str, Example] = {
    "nhs_login": {"summary": "Verified by NHS login (P9)", "value": {"method": "nhs_login_p9"}},
    "documents": {
        "summary": "Photo documents seen at reception",
        "value": {"method": "photo_documents", "checked_at": "2026-11-28T10:15:00Z"},
    },
}
CLINICAL_REVIEW_EXAMPLES: dict[str, Example] = {
    "approved": {"summary": "Nothing to withhold", "value": {"outcome": "approved"}},
    "hidden": {
        "summary": "Approved, with entries marked hidden first",
        "value": {"outcome": "approved_with_hidden_entries", "note": "Two letters hidden."},
    },
    "rejected": {
        "summary": "Rejected, with the reason",
        "value": {
            "outcome": "rejected",
            "reason": "Please book an appointment to talk about your record first.",
        },
    },
}
REJECTION_EXAMPLES: dict[str, Example] = {
    "reason": {
        "summary": "The reason, as the applicant reads it",
        "value": {"reason": "We could not verify the power of attorney. Please contact us."},
    }
}


class PersonOut(ResponseBody):
    given_name: str
    family_name: str
    nhs_number: str | None
    birth_date: date | None


class EventOut(ResponseBody):
    position: int
    from_status: Status | None
    to_status: Status
    actor_role: str
    occurred_at: datetime


class PracticeAccessRequestOut(ResponseBody):
    request_id: str
    kind: ApplicationKind
    status: Status = Field(description=STATUS_DESCRIPTION)
    created_at: datetime
    updated_at: datetime
    applicant: PersonOut
    patient: PersonOut
    relationship: RelationshipKind | None
    basis: Basis | None
    services: ServicesOut | None
    ends_on: date | None
    document_reference: str | None
    entries_from: date | None
    entries_to: date | None
    competence_assessment_needed: bool
    identity_method: IdentityMethod | None
    identity_checked_by: str | None
    identity_checked_at: datetime | None
    review_outcome: ClinicalOutcome | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    decided_by: str | None
    decided_at: datetime | None
    rejected_by: RejectedBy | None
    rejection_reason: str | None
    to_apply_in_clinical_system: bool
    events: list[EventOut]

    @classmethod
    def of(cls, application: service.Application) -> PracticeAccessRequestOut:
        details = application.details
        return cls(
            request_id=application.request_id,
            kind=application.kind,
            status=application.status,
            created_at=application.created_at,
            updated_at=application.updated_at,
            applicant=_person_out(details.applicant),
            patient=_person_out(details.patient),
            relationship=details.relationship,
            basis=application.basis,
            services=_services(application),
            ends_on=application.ends_on,
            document_reference=details.document_reference,
            entries_from=details.entries_from,
            entries_to=details.entries_to,
            competence_assessment_needed=application.competence_assessment_needed,
            identity_method=application.identity_method,
            identity_checked_by=application.identity_checked_by,
            identity_checked_at=application.identity_checked_at,
            review_outcome=application.review_outcome,
            reviewed_by=application.reviewed_by,
            reviewed_at=application.reviewed_at,
            review_note=application.review_note,
            decided_by=application.decided_by,
            decided_at=application.decided_at,
            rejected_by=application.rejected_by,
            rejection_reason=application.rejection_reason,
            to_apply_in_clinical_system=application.to_apply_in_clinical_system,
            events=[EventOut.model_validate(event) for event in application.events],
        )


def _person_out(person: service.Person) -> PersonOut:
    return PersonOut(
        given_name=person.given_name,
        family_name=person.family_name,
        nhs_number=person.nhs_number,
        birth_date=person.birth_date,
    )


class PracticeAccessRequestList(ResponseBody):
    items: list[PracticeAccessRequestOut]
