"""`/v1/patients/{patient_id}/access-requests`: applying for more access, and answering
someone's application to act for you.

Each route is for the person themself (`ActingForSelf`): an application is made in
one's own name (a proxy names the patient in the body), and a consent is given in
one's own account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse

from app.access_requests import service
from app.access_requests.schemas import (
    ACCESS_REQUEST_EXAMPLES,
    AccessRequestIn,
    AccessRequestList,
    AccessRequestOut,
    ConsentRequestList,
    ConsentRequestOut,
)
from app.audit.types import OPAQUE_ID_PATTERN
from app.auth.deps import AuthDep
from app.clock import ClockDep
from app.db import SessionDep, SessionmakerDep
from app.deps import SettingsDep
from app.gp import errors as gp
from app.idempotency.deps import IdempotencyKey
from app.idempotency.service import (
    CREATED_WITH_LOCATION,
    IDEMPOTENCY_PROBLEMS,
    StoredResponse,
    as_response,
    run_once,
)
from app.patients.deps import ACTING_FOR_PROBLEMS, ActingForSelf
from app.problems import problem_responses

router = APIRouter(prefix="/v1/patients/{patient_id}/access-requests", tags=["access requests"])

RequestID = Annotated[
    str,
    Path(
        description="The application's id, from the list.",
        min_length=1,
        max_length=64,
        pattern=OPAQUE_ID_PATTERN,
    ),
]


def _location(patient_id: str, request_id: str) -> str:
    return f"/v1/patients/{patient_id}/access-requests/{request_id}"


@router.post(
    "",
    status_code=201,
    response_model=AccessRequestOut,
    summary="Apply to the practice for more access",
    description="`historic_record`: your full record before your access started "
    "(optionally a range of dates). `detailed_coded`: your detailed coded record. `proxy`: "
    "to act for someone registered at your practice, named by NHS number, date of birth "
    "and names. A proxy application on the patient's consent waits for the patient (16 or "
    "over) to agree in their own account. Send a new `Idempotency-Key` for each "
    "application: a retry with the same key and body returns the first answer.",
    responses={
        **CREATED_WITH_LOCATION,
        **problem_responses(
            *ACTING_FOR_PROBLEMS,
            *IDEMPOTENCY_PROBLEMS,
            *service.SUBMIT_PROBLEMS,
            gp.NotAvailableAtPractice,
        ),
    },
)
async def submit_access_request(
    body: Annotated[AccessRequestIn, Body(openapi_examples=ACCESS_REQUEST_EXAMPLES)],
    idempotency_key: IdempotencyKey,
    acting: ActingForSelf,
    session: SessionDep,
    sessions: SessionmakerDep,
    clock: ClockDep,
    auth: AuthDep,
    settings: SettingsDep,
) -> JSONResponse:
    async def apply() -> StoredResponse:
        made = await service.submit(
            acting,
            session,
            clock,
            auth.cipher,
            body.to_domain(),
            patient_id_secret=settings.patient_id_secret,
        )
        # Only the id is kept with the key: the details stay encrypted, with the application.
        location = _location(acting.patient_id, made.request_id)
        return StoredResponse(201, {"request_id": made.request_id}, location)

    stored = await run_once(
        sessions,
        account_id=acting.actor.account_id,
        key=idempotency_key,
        scope=f"access-request:{acting.patient_id}",
        body=body.model_dump(mode="json"),
        clock=clock,
        action=apply,
    )
    if stored.is_problem:
        return as_response(stored)
    made = await service.find_mine(acting, session, auth.cipher, stored.body["request_id"])
    return JSONResponse(
        AccessRequestOut.of(made).model_dump(mode="json"),
        status_code=201,
        headers={"Location": _location(acting.patient_id, made.request_id)},
    )


@router.get(
    "",
    summary="Your applications and where each one is",
    description="Newest first, each with its status; a rejection gives the practice's reason.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_access_requests(
    acting: ActingForSelf, session: SessionDep, auth: AuthDep
) -> AccessRequestList:
    made = await service.list_mine(acting, session, auth.cipher)
    return AccessRequestList(items=[AccessRequestOut.of(a) for a in made])


@router.get(
    "/consents",
    summary="People asking to act for you, on your consent",
    description="Each waits for your answer (`awaiting_patient_consent`) before the "
    "practice looks at it; the ones you answered are listed too.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_consent_requests(
    acting: ActingForSelf, session: SessionDep, auth: AuthDep
) -> ConsentRequestList:
    asked = await service.consent_requests(acting, session, auth.cipher)
    return ConsentRequestList(items=[ConsentRequestOut.of(a) for a in asked])


@router.post(
    "/consents/{request_id}/consent",
    summary="Agree to someone acting for you",
    description="The application goes to the practice, which checks identity and decides.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS, service.ApplicationNotFound, service.WrongStatus
    ),
)
async def give_consent(
    request_id: RequestID,
    acting: ActingForSelf,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> ConsentRequestOut:
    answered = await service.answer_consent(
        acting, session, clock, auth.cipher, request_id, consents=True
    )
    return ConsentRequestOut.of(answered)


@router.post(
    "/consents/{request_id}/refuse",
    summary="Refuse someone acting for you",
    description="The application ends; the applicant is told you did not agree.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS, service.ApplicationNotFound, service.WrongStatus
    ),
)
async def refuse_consent(
    request_id: RequestID,
    acting: ActingForSelf,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> ConsentRequestOut:
    answered = await service.answer_consent(
        acting, session, clock, auth.cipher, request_id, consents=False
    )
    return ConsentRequestOut.of(answered)


@router.get(
    "/{request_id}",
    summary="One of your applications",
    description="Where it is (`status`), and what was asked for.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, service.ApplicationNotFound),
)
async def get_access_request(
    request_id: RequestID, acting: ActingForSelf, session: SessionDep, auth: AuthDep
) -> AccessRequestOut:
    return AccessRequestOut.of(await service.find_mine(acting, session, auth.cipher, request_id))


@router.post(
    "/{request_id}/withdraw",
    summary="Withdraw an application",
    description="Possible until the practice has approved it.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        service.ApplicationNotFound,
        service.WrongStatus,
        service.ApplicationChanged,
    ),
)
async def withdraw_access_request(
    request_id: RequestID,
    acting: ActingForSelf,
    session: SessionDep,
    clock: ClockDep,
    auth: AuthDep,
) -> AccessRequestOut:
    withdrawn = await service.withdraw(acting, session, clock, auth.cipher, request_id)
    return AccessRequestOut.of(withdrawn)
