"""Applications for more access: made by a patient or a would-be proxy, consented to by
the patient where it rests on their consent, decided by the practice, and applied
through the GP system where it can.

Every change goes through `_change`: the workflow's table is asked first
(`app.access_requests.workflow`), the row is written only over the version that was
read (two staff members acting at once: one wins, the other is told it changed), and
the change's event and audit row are written in the same transaction. Audit rows name
the application, the status, the basis and any end date (DAPB3051), never a name, an
NHS number or a reason; the reasons and identity details are stored only encrypted.

How a proxy names the patient: NHS number, date of birth, given and family name,
matched at the applicant's own practice through the port (`link_by_demographics`, then
the given name against `get_patient`). The app can only show a proxy relationship that
the proxy's own practice's GP system lists, so the patient must be registered there;
an application that does not match is refused (422 `patient_not_matched`), the same
answer whichever detail was wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.fernet import MultiFernet
from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.models import AccessRequest, AccessRequestEvent
from app.access_requests.workflow import (
    FINAL,
    OPEN,
    ApplicationKind,
    Basis,
    ClinicalOutcome,
    CompetenceOutcome,
    IdentityMethod,
    Ineligible,
    ProxyRecordLevel,
    RejectedBy,
    Status,
    initial_status,
    may_change,
    needs_competence_assessment,
    proxy_ineligible,
)
from app.audit.service import record as record_audit
from app.audit.types import AuditAction, AuditEvent
from app.auth.credentials import decrypt_text, encrypt_text
from app.clock import Clock, today
from app.gp.errors import NotAvailableAtPractice, PatientNotFound
from app.gp.port import GPSystem, require
from app.gp.types import (
    Capability,
    DemographicMatch,
    Permissions,
    ProxyGrant,
    RelationshipKind,
)
from app.patients.context import ActingContexts
from app.patients.ids import patient_id
from app.patients.rules import age_on
from app.patients.service import ActingFor
from app.problems import Problem, ProblemKind
from app.staff.deps import StaffMember

# Names the stored details in the error when they do not decrypt (`decrypt_text`).
DETAILS = "an application for access"
REASON = "a reason given on an application for access"

REFUSED_BY_PATIENT = "The patient did not agree to this application."


# --- problems -------------------------------------------------------------------------


class ApplicationNotFound(Problem):
    status = 404
    code = "access_request_not_found"
    title = "Application not found"
    default_detail = "We could not find this application."


class WrongStatus(Problem):
    status = 409
    code = "access_request_status"
    title = "Not possible at this stage"
    default_detail = "This cannot be done while the application is at its current stage."

    def __init__(self, current: Status, detail: str | None = None) -> None:
        self.current = current
        super().__init__(detail)


class ApplicationChanged(Problem):
    status = 409
    code = "access_request_changed"
    title = "Application changed"
    default_detail = "Someone else changed this application just now. Look at it again."


class ApplicationAlreadyOpen(Problem):
    status = 409
    code = "access_request_already_open"
    title = "Application already made"
    default_detail = (
        "You already have an application like this one with the practice. You can follow "
        "it in your list of applications, or withdraw it first."
    )


class DecisionNotReady(Problem):
    """Approval before the identity check and clinical review were both recorded."""

    status = 409
    title = "Not ready to approve"

    def __init__(self, kind: ProblemKind) -> None:
        self.code = kind.code
        super().__init__(kind.detail)


IDENTITY_CHECK_NEEDED = ProblemKind(
    409,
    "identity_check_needed",
    DecisionNotReady.title,
    "Record the identity check before approving the application.",
)
CLINICAL_REVIEW_NEEDED = ProblemKind(
    409,
    "clinical_review_needed",
    DecisionNotReady.title,
    "Record the clinical review before approving the application.",
)


class InvalidApplication(Problem):
    status = 422
    title = "Application not possible"

    def __init__(self, kind: ProblemKind) -> None:
        self.code = kind.code
        super().__init__(kind.detail)


def _invalid(code: str, detail: str) -> ProblemKind:
    return ProblemKind(422, code, InvalidApplication.title, detail)


PATIENT_NOT_MATCHED = _invalid(
    "patient_not_matched",
    "We could not find a patient with these details at your practice. Check the NHS "
    "number, date of birth and names, or ask the practice.",
)
NOT_FOR_YOURSELF = _invalid(
    "proxy_for_yourself", "You cannot apply to act for yourself: you already have access."
)
INVALID_RANGE = _invalid("invalid_range", "The `entries_to` date must be on or after the `from`.")
INELIGIBLE: dict[Ineligible, ProblemKind] = {
    Ineligible.PARENTAL_RESPONSIBILITY_UNDER_16: _invalid(
        Ineligible.PARENTAL_RESPONSIBILITY_UNDER_16,
        "Parental responsibility gives access for a child under 16. A young person of 16 "
        "or over can give their own consent.",
    ),
    Ineligible.CONSENT_NEEDS_16: _invalid(
        Ineligible.CONSENT_NEEDS_16,
        "For a child under 16, apply on the basis of parental responsibility.",
    ),
    Ineligible.ATTORNEY_NEEDS_ADULT: _invalid(
        Ineligible.ATTORNEY_NEEDS_ADULT, "A lasting power of attorney is for an adult."
    ),
    Ineligible.DEPUTY_NEEDS_16: _invalid(
        Ineligible.DEPUTY_NEEDS_16,
        "A court-appointed deputy acts for someone aged 16 or over. For a child, apply on "
        "the basis of parental responsibility.",
    ),
    Ineligible.DOCUMENT_REFERENCE_REQUIRED: _invalid(
        Ineligible.DOCUMENT_REFERENCE_REQUIRED,
        "Give the reference of the power of attorney or court order (`document_reference`).",
    ),
    Ineligible.DOCUMENT_REFERENCE_NOT_EXPECTED: _invalid(
        Ineligible.DOCUMENT_REFERENCE_NOT_EXPECTED,
        "A document reference is only for a power of attorney or a court order.",
    ),
    Ineligible.END_DATE_PASSED: _invalid(
        Ineligible.END_DATE_PASSED, "The end date must be after today."
    ),
    Ineligible.NO_SERVICE: _invalid(
        Ineligible.NO_SERVICE, "Choose at least one service to use for the patient."
    ),
}
COMPETENCE_NEEDED = _invalid(
    "competence_assessment_needed",
    "The patient is 11 to 15: record the outcome of the competence assessment "
    "(`competence`) with the review.",
)
COMPETENT_CHILD_DISAGREES = _invalid(
    "competent_child_disagrees",
    "A competent young person who does not agree to a parent's access cannot be "
    "overruled: record the review as rejected.",
)
REASON_REQUIRED = _invalid("reason_required", "Give the reason for rejecting (`reason`).")

SUBMIT_PROBLEMS: tuple[type[Problem] | ProblemKind, ...] = (
    ApplicationAlreadyOpen,
    PATIENT_NOT_MATCHED,
    NOT_FOR_YOURSELF,
    INVALID_RANGE,
    *INELIGIBLE.values(),
)


# --- domain types ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    given_name: str
    family_name: str
    patient_ref: str  # the GP system's id: never leaves the service
    nhs_number: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class ProxyServices:
    appointments: bool
    prescriptions: bool
    record: ProxyRecordLevel

    @property
    def any(self) -> bool:
        return self.appointments or self.prescriptions or self.record is not ProxyRecordLevel.NONE


@dataclass(frozen=True, slots=True)
class Details:
    """What is stored encrypted: who, about whom, and what was asked for."""

    applicant: Person
    patient: Person
    relationship: RelationshipKind | None = None
    services: ProxyServices | None = None
    document_reference: str | None = None
    entries_from: date | None = None
    entries_to: date | None = None


_DETAILS = TypeAdapter(Details)


@dataclass(frozen=True, slots=True)
class HistoricRecordRequest:
    entries_from: date | None = None
    entries_to: date | None = None


@dataclass(frozen=True, slots=True)
class DetailedCodedRequest:
    pass


@dataclass(frozen=True, slots=True)
class NamedPatient:
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    patient: NamedPatient
    relationship: RelationshipKind
    basis: Basis
    services: ProxyServices
    ends_on: date | None = None
    document_reference: str | None = None


ApplicationRequest = HistoricRecordRequest | DetailedCodedRequest | ProxyRequest


@dataclass(frozen=True, slots=True)
class Event:
    position: int
    from_status: Status | None
    to_status: Status
    actor_role: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Application:
    request_id: str
    ods_code: str
    kind: ApplicationKind
    status: Status
    basis: Basis | None
    ends_on: date | None
    competence_assessment_needed: bool
    details: Details
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
    created_at: datetime
    updated_at: datetime
    events: list[Event] = field(default_factory=list)

    @classmethod
    def of(
        cls, row: AccessRequest, cipher: MultiFernet, events: Sequence[AccessRequestEvent] = ()
    ) -> Application:
        details = _DETAILS.validate_json(decrypt_text(cipher, row.details_encrypted, what=DETAILS))
        return cls(
            request_id=row.id,
            ods_code=row.ods_code,
            kind=row.kind,
            status=row.status,
            basis=row.basis,
            ends_on=row.ends_on,
            competence_assessment_needed=row.competence_assessment_needed,
            details=details,
            identity_method=row.identity_method,
            identity_checked_by=row.identity_checked_by,
            identity_checked_at=row.identity_checked_at,
            review_outcome=row.review_outcome,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            review_note=_decrypted(cipher, row.review_note_encrypted),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            rejected_by=row.rejected_by,
            rejection_reason=_decrypted(cipher, row.rejection_reason_encrypted),
            to_apply_in_clinical_system=row.to_apply_in_clinical_system,
            created_at=row.created_at,
            updated_at=row.updated_at,
            events=[
                Event(e.position, e.from_status, e.to_status, e.actor_role, e.occurred_at)
                for e in events
            ],
        )


def _decrypted(cipher: MultiFernet, stored: str | None) -> str | None:
    return None if stored is None else decrypt_text(cipher, stored, what=REASON)


def _encrypted(cipher: MultiFernet, text: str | None) -> str | None:
    return None if text is None else encrypt_text(cipher, text)


# --- changing status -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    role: str  # applicant | patient | staff
    audit_id: str  # an account id, or a staff member's `cis2:` id


AUDIT_ACTIONS: dict[Status, AuditAction] = {
    Status.SUBMITTED: AuditAction.APPLICATION_SUBMITTED,
    Status.AWAITING_PATIENT_CONSENT: AuditAction.APPLICATION_SUBMITTED,
    Status.WITHDRAWN: AuditAction.APPLICATION_WITHDRAWN,
    Status.IDENTITY_VERIFIED: AuditAction.APPLICATION_IDENTITY_VERIFIED,
    Status.UNDER_CLINICAL_REVIEW: AuditAction.APPLICATION_REVIEWED,
    Status.APPROVED: AuditAction.APPLICATION_APPROVED,
    Status.REJECTED: AuditAction.APPLICATION_REJECTED,
    Status.APPLIED: AuditAction.APPLICATION_APPLIED,
}


def audit_target(row: AccessRequest, to: Status, *detail: str) -> str:
    """`<id>:<status>:<kind or basis>:<end date or open>[:<detail>]`: who decided is the
    audit row's actor; nothing here names or describes a person."""
    ends = row.ends_on.isoformat() if row.ends_on else "open"
    basis = row.basis.value if row.basis else row.kind.value
    return ":".join([row.id, to.value, basis, ends, *detail])


async def _append_event(
    session: AsyncSession, row: AccessRequest, before: Status | None, actor: Actor, clock: Clock
) -> None:
    position = await session.scalar(
        select(func.coalesce(func.max(AccessRequestEvent.position), 0)).where(
            AccessRequestEvent.request_id == row.id
        )
    )
    session.add(
        AccessRequestEvent(
            request_id=row.id,
            position=int(position or 0) + 1,
            from_status=before,
            to_status=row.status,
            actor_role=actor.role,
            actor_id=actor.audit_id,
            occurred_at=clock.now(),
        )
    )


async def _change(
    session: AsyncSession,
    clock: Clock,
    row: AccessRequest,
    to: Status,
    actor: Actor,
    *,
    action: AuditAction | None = None,
    detail: Sequence[str] = (),
    **values: Any,
) -> None:
    """Move `row` to `to` with `values`, its event and its audit row; one transaction."""
    before = row.status
    if not may_change(before, to):
        raise WrongStatus(before)
    now = clock.now()
    result = await session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == row.id, AccessRequest.version == row.version)
        .values(
            status=to,
            version=row.version + 1,
            updated_at=now,
            closed_at=now if to in FINAL else None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise ApplicationChanged()
    await session.refresh(row)
    await _append_event(session, row, before, actor, clock)
    event = AuditEvent(
        action=action or AUDIT_ACTIONS[to],
        actor_id=actor.audit_id,
        patient_id=row.patient_id,
        target=audit_target(row, to, *detail),
    )
    await record_audit(session, event, clock=clock)
    await session.commit()


# --- the applicant and the patient -----------------------------------------------------------


def _made_by(acting: ActingFor) -> list[ColumnElement[bool]]:
    """The applications this person made from this account: no one else's."""
    return [
        AccessRequest.applicant_account_id == acting.actor.account_id,
        AccessRequest.applicant_patient_id == acting.patient_id,
    ]


def _about(acting: ActingFor) -> list[ColumnElement[bool]]:
    """Proxy applications on this patient's consent, for them to answer."""
    return [
        AccessRequest.patient_id == acting.patient_id,
        AccessRequest.kind == ApplicationKind.PROXY,
        AccessRequest.basis == Basis.PATIENT_CONSENT,
        AccessRequest.applicant_patient_id != acting.patient_id,
    ]


def _person(patient: Any, *, identified: bool = False) -> Person:
    return Person(
        given_name=patient.given_name,
        family_name=patient.family_name,
        patient_ref=patient.patient_ref,
        nhs_number=patient.nhs_number if identified else None,
        birth_date=patient.birth_date if identified else None,
    )


async def _matched_patient(acting: ActingFor, named: NamedPatient) -> Person:
    """The patient the proxy names, as the practice's GP system holds them; 422 if none."""
    system = acting.system
    match = DemographicMatch(
        nhs_number=named.nhs_number,
        ods_code=acting.profile.patient.ods_code,
        family_name=named.family_name,
        birth_date=named.birth_date,
    )
    try:
        linked = await system.link_by_demographics(match)
        patient = await system.get_patient(linked.user_ref)
    except PatientNotFound:
        raise InvalidApplication(PATIENT_NOT_MATCHED) from None
    if patient.given_name.strip().casefold() != named.given_name.strip().casefold():
        raise InvalidApplication(PATIENT_NOT_MATCHED)
    if patient.patient_ref == acting.patient_ref:
        raise InvalidApplication(NOT_FOR_YOURSELF)
    return _person(patient, identified=True)


async def submit(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    application: ApplicationRequest,
    *,
    patient_id_secret: str,
) -> Application:
    """Make an application; a proxy's on consent waits for the patient (16 or over)."""
    day = today(clock)
    own = acting.profile.patient
    applicant = _person(own, identified=True)
    basis: Basis | None = None
    ends_on: date | None = None
    if isinstance(application, ProxyRequest):
        require(acting.system, Capability.PROXY_RELATIONSHIPS)
        patient = await _matched_patient(acting, application.patient)
        assert patient.birth_date is not None  # noqa: S101 - identified above
        refused = proxy_ineligible(
            basis=application.basis,
            birth_date=patient.birth_date,
            today=day,
            document_reference=application.document_reference,
            ends_on=application.ends_on,
            any_service=application.services.any,
        )
        if refused is not None:
            raise InvalidApplication(INELIGIBLE[refused])
        kind, basis, ends_on = ApplicationKind.PROXY, application.basis, application.ends_on
        details = Details(
            applicant=applicant,
            patient=patient,
            relationship=application.relationship,
            services=application.services,
            document_reference=application.document_reference,
        )
        age = age_on(patient.birth_date, day)
        competence = needs_competence_assessment(basis, patient.birth_date, day)
    else:
        if isinstance(application, HistoricRecordRequest):
            kind = ApplicationKind.HISTORIC_RECORD
            start, end = application.entries_from, application.entries_to
            if start is not None and end is not None and end < start:
                raise InvalidApplication(INVALID_RANGE)
            details = Details(applicant, applicant, entries_from=start, entries_to=end)
        else:
            kind = ApplicationKind.DETAILED_CODED
            details = Details(applicant, applicant)
        age, competence = age_on(own.birth_date, day), False
    target_id = patient_id(patient_id_secret, own.ods_code, details.patient.patient_ref)
    await _refuse_a_second(session, acting, kind, target_id)
    now = clock.now()
    row = AccessRequest(
        id=str(uuid.uuid4()),
        ods_code=own.ods_code,
        kind=kind,
        status=initial_status(kind, basis, age),
        applicant_account_id=acting.actor.account_id,
        applicant_patient_id=acting.patient_id,
        patient_id=target_id,
        basis=basis,
        ends_on=ends_on,
        competence_assessment_needed=competence,
        details_encrypted=encrypt_text(cipher, _DETAILS.dump_json(details).decode()),
        to_apply_in_clinical_system=False,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(row)
    await session.flush()
    await _append_event(session, row, None, Actor("applicant", acting.actor.account_id), clock)
    event = AuditEvent(
        action=AuditAction.APPLICATION_SUBMITTED,
        actor_id=acting.actor.account_id,
        patient_id=target_id,
        target=audit_target(row, row.status),
    )
    await record_audit(session, event, clock=clock)
    await session.commit()
    return Application.of(row, cipher)


async def _refuse_a_second(
    session: AsyncSession, acting: ActingFor, kind: ApplicationKind, target_id: str
) -> None:
    still_open = await session.scalar(
        select(AccessRequest.id).where(
            *_made_by(acting),
            AccessRequest.kind == kind,
            AccessRequest.patient_id == target_id,
            AccessRequest.status.in_([*OPEN, Status.APPROVED]),
        )
    )
    if still_open is not None:
        raise ApplicationAlreadyOpen()


async def list_mine(
    acting: ActingFor, session: AsyncSession, cipher: MultiFernet
) -> list[Application]:
    """The applications this person made, newest first."""
    rows = await session.scalars(
        select(AccessRequest)
        .where(*_made_by(acting))
        .order_by(AccessRequest.created_at.desc(), AccessRequest.id)
    )
    return [Application.of(row, cipher) for row in rows]


async def _one(session: AsyncSession, *where: ColumnElement[bool]) -> AccessRequest:
    row = (await session.scalars(select(AccessRequest).where(*where))).first()
    if row is None:
        raise ApplicationNotFound()
    return row


async def find_mine(
    acting: ActingFor, session: AsyncSession, cipher: MultiFernet, request_id: str
) -> Application:
    row = await _one(session, AccessRequest.id == request_id, *_made_by(acting))
    return Application.of(row, cipher)


async def withdraw(
    acting: ActingFor, session: AsyncSession, clock: Clock, cipher: MultiFernet, request_id: str
) -> Application:
    row = await _one(session, AccessRequest.id == request_id, *_made_by(acting))
    await _change(
        session, clock, row, Status.WITHDRAWN, Actor("applicant", acting.actor.account_id)
    )
    return Application.of(row, cipher)


async def consent_requests(
    acting: ActingFor, session: AsyncSession, cipher: MultiFernet
) -> list[Application]:
    """Proxy applications resting on this patient's consent, newest first."""
    rows = await session.scalars(
        select(AccessRequest)
        .where(*_about(acting))
        .order_by(AccessRequest.created_at.desc(), AccessRequest.id)
    )
    return [Application.of(row, cipher) for row in rows]


async def answer_consent(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    request_id: str,
    *,
    consents: bool,
) -> Application:
    """The patient's own answer: the application goes on to the practice, or ends."""
    row = await _one(session, AccessRequest.id == request_id, *_about(acting))
    if row.status is not Status.AWAITING_PATIENT_CONSENT:
        raise WrongStatus(row.status, "This application is not waiting for your answer.")
    actor = Actor("patient", acting.actor.account_id)
    if consents:
        await _change(
            session,
            clock,
            row,
            Status.SUBMITTED,
            actor,
            action=AuditAction.APPLICATION_CONSENT_GIVEN,
        )
    else:
        await _change(
            session,
            clock,
            row,
            Status.REJECTED,
            actor,
            action=AuditAction.APPLICATION_CONSENT_REFUSED,
            rejected_by=RejectedBy.PATIENT,
            rejection_reason_encrypted=encrypt_text(cipher, REFUSED_BY_PATIENT),
        )
    return Application.of(row, cipher)


# --- the practice ------------------------------------------------------------------------


def _at_practice(staff: StaffMember) -> ColumnElement[bool]:
    return AccessRequest.ods_code == staff.ods_code


async def practice_list(
    staff: StaffMember,
    session: AsyncSession,
    cipher: MultiFernet,
    *,
    status: Status | None = None,
    kind: ApplicationKind | None = None,
) -> list[Application]:
    """The practice's applications, oldest first (the order they are worked through)."""
    query = select(AccessRequest).where(_at_practice(staff))
    if status is not None:
        query = query.where(AccessRequest.status == status)
    if kind is not None:
        query = query.where(AccessRequest.kind == kind)
    rows = await session.scalars(query.order_by(AccessRequest.created_at, AccessRequest.id))
    return [Application.of(row, cipher) for row in rows]


async def _practice_row(
    staff: StaffMember, session: AsyncSession, request_id: str
) -> AccessRequest:
    return await _one(session, AccessRequest.id == request_id, _at_practice(staff))


async def practice_find(
    staff: StaffMember, session: AsyncSession, cipher: MultiFernet, request_id: str
) -> Application:
    row = await _practice_row(staff, session, request_id)
    events = await session.scalars(
        select(AccessRequestEvent)
        .where(AccessRequestEvent.request_id == row.id)
        .order_by(AccessRequestEvent.position)
    )
    return Application.of(row, cipher, list(events))


def _staff(staff: StaffMember) -> Actor:
    return Actor("staff", staff.audit_id)


async def record_identity_check(
    staff: StaffMember,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    request_id: str,
    *,
    method: IdentityMethod,
    checked_at: datetime | None,
) -> Application:
    row = await _practice_row(staff, session, request_id)
    await _change(
        session,
        clock,
        row,
        Status.IDENTITY_VERIFIED,
        _staff(staff),
        detail=[method.value],
        identity_method=method,
        identity_checked_by=staff.audit_id,
        identity_checked_at=checked_at or clock.now(),
    )
    return await practice_find(staff, session, cipher, request_id)


@dataclass(frozen=True, slots=True)
class ClinicalReview:
    outcome: ClinicalOutcome
    reason: str | None = None  # for the applicant, when rejected
    note: str | None = None  # for the practice
    competence: CompetenceOutcome | None = None


async def record_clinical_review(
    staff: StaffMember,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    request_id: str,
    review: ClinicalReview,
) -> Application:
    """The review's outcome; a rejection rejects the application there and then."""
    row = await _practice_row(staff, session, request_id)
    rejected = review.outcome is ClinicalOutcome.REJECTED
    if rejected and not review.reason:
        raise InvalidApplication(REASON_REQUIRED)
    if row.competence_assessment_needed and not rejected:
        if review.competence is None:
            raise InvalidApplication(COMPETENCE_NEEDED)
        if review.competence is CompetenceOutcome.COMPETENT_DISAGREES:
            raise InvalidApplication(COMPETENT_CHILD_DISAGREES)
    if row.status is not Status.IDENTITY_VERIFIED and not (rejected and row.status in OPEN):
        if row.status is Status.SUBMITTED:
            raise DecisionNotReady(IDENTITY_CHECK_NEEDED)
        raise WrongStatus(row.status)
    note = review.note
    if review.competence is not None:
        note = f"Competence: {review.competence.value}." + (f" {note}" if note else "")
    values: dict[str, Any] = {
        "review_outcome": review.outcome,
        "reviewed_by": staff.audit_id,
        "reviewed_at": clock.now(),
        "review_note_encrypted": _encrypted(cipher, note),
    }
    if rejected:
        values |= {
            "decided_by": staff.audit_id,
            "decided_at": clock.now(),
            "rejected_by": RejectedBy.PRACTICE,
            "rejection_reason_encrypted": _encrypted(cipher, review.reason),
        }
        to = Status.REJECTED
    else:
        to = Status.UNDER_CLINICAL_REVIEW
    await _change(
        session,
        clock,
        row,
        to,
        _staff(staff),
        action=AuditAction.APPLICATION_REVIEWED if not rejected else None,
        detail=[review.outcome.value],
        **values,
    )
    return await practice_find(staff, session, cipher, request_id)


async def reject(
    staff: StaffMember,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    request_id: str,
    *,
    reason: str,
) -> Application:
    row = await _practice_row(staff, session, request_id)
    await _change(
        session,
        clock,
        row,
        Status.REJECTED,
        _staff(staff),
        decided_by=staff.audit_id,
        decided_at=clock.now(),
        rejected_by=RejectedBy.PRACTICE,
        rejection_reason_encrypted=encrypt_text(cipher, reason),
    )
    return await practice_find(staff, session, cipher, request_id)


async def approve(
    staff: StaffMember,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    system: GPSystem,
    contexts: ActingContexts,
    request_id: str,
) -> Application:
    """Approve, then apply through the GP system where it can; else staff set it there.

    Refused before the identity check and the clinical review are recorded. An approved
    application whose apply failed (the GP system was out) is applied by approving again.
    """
    row = await _practice_row(staff, session, request_id)
    if row.status in (Status.SUBMITTED, Status.AWAITING_PATIENT_CONSENT):
        raise DecisionNotReady(IDENTITY_CHECK_NEEDED)
    if row.status is Status.IDENTITY_VERIFIED:
        raise DecisionNotReady(CLINICAL_REVIEW_NEEDED)
    if row.status is Status.UNDER_CLINICAL_REVIEW:
        applies_here = Capability.ACCESS_CHANGES in system.capabilities
        await _change(
            session,
            clock,
            row,
            Status.APPROVED,
            _staff(staff),
            decided_by=staff.audit_id,
            decided_at=clock.now(),
            to_apply_in_clinical_system=not applies_here,
        )
    elif row.status is not Status.APPROVED or row.to_apply_in_clinical_system:
        raise WrongStatus(row.status)
    if not row.to_apply_in_clinical_system:
        application = Application.of(row, cipher)
        try:
            await _apply(system, application, staff, today(clock))
        except NotAvailableAtPractice:
            await session.execute(
                update(AccessRequest)
                .where(AccessRequest.id == row.id)
                .values(to_apply_in_clinical_system=True)
            )
            await session.commit()
        else:
            await _applied(session, clock, contexts, row, staff)
    return await practice_find(staff, session, cipher, request_id)


async def confirm_applied(
    staff: StaffMember,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    contexts: ActingContexts,
    request_id: str,
) -> Application:
    """Staff set the approved access in the clinical system themselves."""
    row = await _practice_row(staff, session, request_id)
    if row.status is Status.APPROVED and not row.to_apply_in_clinical_system:
        raise WrongStatus(row.status, "Approve it again: this practice's system applies it.")
    await _applied(session, clock, contexts, row, staff)
    return await practice_find(staff, session, cipher, request_id)


async def _applied(
    session: AsyncSession,
    clock: Clock,
    contexts: ActingContexts,
    row: AccessRequest,
    staff: StaffMember,
) -> None:
    await _change(session, clock, row, Status.APPLIED, _staff(staff))
    # The applicant's sessions ask their GP system again: the new access shows at once.
    await contexts.forget_for_account(session, row.applicant_account_id)


def proxy_grant(application: Application, *, actor_ref: str, day: date) -> ProxyGrant:
    """The proxy relationship an approved application stands for, from `day`.

    The record level is what was asked for; the rules (`app.patients.rules`) keep what
    the proxy sees within what the patient may see. A parent whose child's competence
    was assessed has that review recorded.
    """
    details = application.details
    services = details.services
    assert services is not None and details.relationship is not None  # noqa: S101
    return ProxyGrant(
        user_ref=details.applicant.patient_ref,
        patient_ref=details.patient.patient_ref,
        kind=details.relationship,
        permissions=Permissions(
            appointments=services.appointments,
            prescriptions=services.prescriptions,
            record_level=services.record.level,
        ),
        starts_on=day,
        ends_on=application.ends_on,
        review_recorded=application.competence_assessment_needed,
        actor_ref=actor_ref,
    )


async def _apply(system: GPSystem, application: Application, staff: StaffMember, day: date) -> None:
    details = application.details
    actor_ref = staff.user_id
    if application.kind is ApplicationKind.HISTORIC_RECORD:
        await system.grant_historic_access(
            details.patient.patient_ref, from_date=details.entries_from, actor_ref=actor_ref
        )
    elif application.kind is ApplicationKind.DETAILED_CODED:
        await system.grant_detailed_coded_access(details.patient.patient_ref, actor_ref=actor_ref)
    else:
        await system.create_proxy_relationship(
            proxy_grant(application, actor_ref=actor_ref, day=day)
        )


# --- housekeeping -----------------------------------------------------------------------


async def prune_closed(session: AsyncSession, *, now: datetime, keep_for: timedelta) -> int:
    """Delete applications closed more than `keep_for` ago, with their events.

    Who decided what, and when, stays in the audit trail, which is never pruned.
    """
    old = select(AccessRequest.id).where(AccessRequest.closed_at < now - keep_for)
    await session.execute(delete(AccessRequestEvent).where(AccessRequestEvent.request_id.in_(old)))
    result = await session.execute(
        delete(AccessRequest).where(AccessRequest.closed_at < now - keep_for)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
