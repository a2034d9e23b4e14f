"""`/v1/practices/{ods_code}/access-requests`: the practice's side of applications.

Staff only (`app.staff.deps`): staff see and act on their own practice's
applications, never another's (a request for another practice's is 403, an
application of another practice's 404). Each change is audited with who decided.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from app.access_requests import service
from app.access_requests.schemas import (
    CLINICAL_REVIEW_EXAMPLES,
    IDENTITY_CHECK_EXAMPLES,
    REJECTION_EXAMPLES,
    ClinicalReviewIn,
    IdentityCheckIn,
    PracticeAccessRequestList,
    PracticeAccessRequestOut,
    RejectionIn,
)
from app.access_requests.workflow import ApplicationKind, Status
from app.audit.types import OPAQUE_ID_PATTERN
from app.auth.deps import AuthDep
from app.clock import ClockDep
from app.db import SessionDep
from app.gp import errors as gp
from app.gp.deps import GPRegistryDep
from app.patients.context import ActingContextsDep
from app.problems import problem_responses
from app.staff.deps import STAFF_PROBLEMS, ClinicianAtPractice, StaffAtPractice

PRACTICE_STAFF_TAG = "practice staff"

router = APIRouter(prefix="/v1/practices/{ods_code}/access-requests", tags=[PRACTICE_STAFF_TAG])

RequestID = Annotated[
    str,
    Path(
        description="The application's id, from the list.",
        min_length=1,
        max_length=64,
        pattern=OPAQUE_ID_PATTERN,
    ),
]
CHANGE_PROBLEMS = (
    *STAFF_PROBLEMS,
    service.ApplicationNotFound,
    service.WrongStatus,
    service.ApplicationChanged,
)


@router.get(
    "",
    summary="The practice's applications, oldest first",
    description="Filter by `status` (say, `submitted` for those waiting for an identity "
    "check) and by `kind`. Each shows the details the practice needs to verify and review.",
    responses=problem_responses(*STAFF_PROBLEMS),
)
async def list_practice_access_requests(
    staff: StaffAtPractice,
    session: SessionDep,
    auth: AuthDep,
    status: Annotated[Status | None, Query(description="Only those at this stage.")] = None,
    kind: Annotated[ApplicationKind | None, Query(description="Only this kind.")] = None,
) -> PracticeAccessRequestList:
    found = await service.practice_list(staff, session, auth.cipher, status=status, kind=kind)
    return PracticeAccessRequestList(items=[PracticeAccessRequestOut.of(a) for a in found])


@router.get(
    "/{request_id}",
    summary="One application, with its history",
    description="Its details, the identity check and review as recorded, and each change "
    "of status in order (`events`).",
    responses=problem_responses(*STAFF_PROBLEMS, service.ApplicationNotFound),
)
async def get_practice_access_request(
    request_id: RequestID, staff: StaffAtPractice, session: SessionDep, auth: AuthDep
) -> PracticeAccessRequestOut:
    found = await service.practice_find(staff, session, auth.cipher, request_id)
    return PracticeAccessRequestOut.of(found)


@router.post(
    "/{request_id}/identity-check",
    summary="Record the applicant's identity check",
    description="How identity was verified; the signed-in staff member is recorded as who "
    "checked it. Only after the patient's consent, where it is needed.",
    responses=problem_responses(*CHANGE_PROBLEMS),
)
async def record_identity_check(
    request_id: RequestID,
    body: Annotated[IdentityCheckIn, Body(openapi_examples=IDENTITY_CHECK_EXAMPLES)],
    staff: StaffAtPractice,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> PracticeAccessRequestOut:
    checked = await service.record_identity_check(
        staff,
        session,
        clock,
        auth.cipher,
        request_id,
        method=body.method,
        checked_at=body.checked_at,
    )
    return PracticeAccessRequestOut.of(checked)


@router.post(
    "/{request_id}/clinical-review",
    summary="Record the clinical review's outcome",
    description="`approved`, `approved_with_hidden_entries` (entries were marked hidden in "
    "the clinical system), or `rejected` with the reason, which rejects the application. "
    "For a patient aged 11 to 15, the competence assessment's outcome too. Clinicians only.",
    responses=problem_responses(
        *CHANGE_PROBLEMS,
        service.IDENTITY_CHECK_NEEDED,
        service.COMPETENCE_NEEDED,
        service.COMPETENT_CHILD_DISAGREES,
        service.REASON_REQUIRED,
    ),
)
async def record_clinical_review(
    request_id: RequestID,
    body: Annotated[ClinicalReviewIn, Body(openapi_examples=CLINICAL_REVIEW_EXAMPLES)],
    staff: ClinicianAtPractice,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> PracticeAccessRequestOut:
    reviewed = await service.record_clinical_review(
        staff, session, clock, auth.cipher, request_id, body.to_domain()
    )
    return PracticeAccessRequestOut.of(reviewed)


@router.post(
    "/{request_id}/approve",
    summary="Approve, and switch the access on where the GP system can",
    description="Refused until the identity check and the clinical review are recorded. "
    "Where the practice's GP system can apply it, the application is `applied`; otherwise "
    "it is `approved` with `to_apply_in_clinical_system`, and staff confirm `applied` once "
    "they have set it there. If the GP system was unavailable, approve again to apply it.",
    responses=problem_responses(
        *CHANGE_PROBLEMS,
        service.IDENTITY_CHECK_NEEDED,
        service.CLINICAL_REVIEW_NEEDED,
        gp.GPSystemUnavailable,
    ),
)
async def approve_access_request(
    request_id: RequestID,
    staff: StaffAtPractice,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
    registry: GPRegistryDep,
    contexts: ActingContextsDep,
) -> PracticeAccessRequestOut:
    approved = await service.approve(
        staff,
        session,
        clock,
        auth.cipher,
        registry.for_practice(staff.ods_code),
        contexts,
        request_id,
    )
    return PracticeAccessRequestOut.of(approved)


@router.post(
    "/{request_id}/reject",
    summary="Reject an application, with the reason",
    description="At any stage before approval; the applicant reads the reason.",
    responses=problem_responses(*CHANGE_PROBLEMS),
)
async def reject_access_request(
    request_id: RequestID,
    body: Annotated[RejectionIn, Body(openapi_examples=REJECTION_EXAMPLES)],
    staff: StaffAtPractice,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> PracticeAccessRequestOut:
    rejected = await service.reject(
        staff, session, clock, auth.cipher, request_id, reason=body.reason
    )
    return PracticeAccessRequestOut.of(rejected)


@router.post(
    "/{request_id}/applied",
    summary="Confirm the approved access is set in the clinical system",
    description="For an application approved with `to_apply_in_clinical_system`: staff set "
    "the access in the clinical system, then confirm it here.",
    responses=problem_responses(*CHANGE_PROBLEMS),
)
async def confirm_access_request_applied(
    request_id: RequestID,
    staff: StaffAtPractice,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
    contexts: ActingContextsDep,
) -> PracticeAccessRequestOut:
    applied = await service.confirm_applied(
        staff, session, clock, auth.cipher, contexts, request_id
    )
    return PracticeAccessRequestOut.of(applied)
