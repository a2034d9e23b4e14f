"""`/v1/patients/{patient_id}/prescriptions` and `/pharmacy`: order repeats, follow them,
cancel them, and the nominated pharmacy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import JSONResponse

from app.clock import ClockDep, today
from app.db import SessionDep, SessionmakerDep
from app.gp import errors as gp
from app.idempotency.deps import IdempotencyKey
from app.idempotency.service import CREATED_WITH_LOCATION, IDEMPOTENCY_PROBLEMS, create_once
from app.patients.deps import (
    ACTING_FOR_PROBLEMS,
    ActingForPharmacyChange,
    ActingForPrescriptions,
    PatientID,
)
from app.pharmacies.deps import PharmacyDirectoryDep
from app.pharmacies.problems import PharmacyDirectoryUnavailable
from app.prescriptions import service
from app.prescriptions.schemas import (
    NOMINATION_EXAMPLES,
    REQUEST_EXAMPLES,
    CourseList,
    CourseOut,
    NominatedPharmacy,
    NominatedPharmacyOut,
    NominationIn,
    PrescriptionRequestIn,
    PrescriptionRequestList,
    PrescriptionRequestOut,
)
from app.prescriptions.service import (
    NOTE_REQUIRED,
    NOTE_TOO_LONG,
    UNKNOWN_COURSE,
    UNKNOWN_PHARMACY,
)
from app.problems import InvalidCursor, problem_responses
from app.ratelimit.deps import Budget, RateLimited

router = APIRouter(prefix="/v1/patients/{patient_id}", tags=["prescriptions"])

RequestID = Annotated[
    str, Path(description="The request's id, from the list.", min_length=1, max_length=128)
]


@router.get(
    "/prescriptions/courses",
    summary="Repeat medicines, with whether each can be ordered now",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, gp.NotAvailableAtPractice),
)
async def list_courses(acting: ActingForPrescriptions, clock: ClockDep) -> CourseList:
    """Repeat and repeat-dispensing medicines, each with `orderable` and, when not, the reason
    and the date it can be ordered from.
    """
    views = await service.list_courses(acting, today=today(clock))
    return CourseList(items=[CourseOut.of(view) for view in views])


@router.post(
    "/prescriptions/requests",
    status_code=201,
    summary="Order repeat medicines",
    description="Every medicine must be orderable now (see `GET …/prescriptions/courses`); "
    "one that is not is refused with its reason as the problem `code` (`request_pending`, "
    "`review_overdue`, `too_soon`, `not_a_repeat`) and nothing is ordered.",
    response_model=PrescriptionRequestOut,
    responses={
        **CREATED_WITH_LOCATION,
        **problem_responses(
            *ACTING_FOR_PROBLEMS,
            *IDEMPOTENCY_PROBLEMS,
            gp.NotAvailableAtPractice,
            gp.CourseNotOrderable,
            gp.TooManyItems,
            gp.OrderPartlyPlaced,
            NOTE_REQUIRED,
            NOTE_TOO_LONG,
            UNKNOWN_COURSE,
        ),
    },
    dependencies=[Depends(RateLimited(Budget.PRESCRIPTION_REQUEST))],
)
async def request_repeats(
    patient_id: PatientID,
    body: Annotated[PrescriptionRequestIn, Body(openapi_examples=REQUEST_EXAMPLES)],
    idempotency_key: IdempotencyKey,
    acting: ActingForPrescriptions,
    session: SessionDep,
    sessions: SessionmakerDep,
    clock: ClockDep,
) -> JSONResponse:
    async def order() -> tuple[PrescriptionRequestOut, str]:
        view = await service.request_repeats(
            acting,
            session,
            sessions,
            clock,
            today=today(clock),
            course_ids=body.course_ids,
            note=body.note,
        )
        out = PrescriptionRequestOut.of(view)
        return out, f"/v1/patients/{patient_id}/prescriptions/requests/{out.request_id}"

    return await create_once(
        sessions,
        account_id=acting.actor.account_id,
        key=idempotency_key,
        scope=f"prescription:{acting.patient_id}",
        body=body,
        clock=clock,
        create=order,
    )


@router.get(
    "/prescriptions/requests",
    summary="Prescription requests and their status, newest first",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, gp.NotAvailableAtPractice, InvalidCursor),
)
async def list_requests(
    acting: ActingForPrescriptions,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` from the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Most requests to return.")] = 20,
) -> PrescriptionRequestList:
    """The patient's repeat prescription requests, newest first, a page at a time
    (`next_cursor`), each with its status and whether it can still be cancelled.
    """
    page = await service.list_requests(acting, cursor=cursor, limit=limit)
    return PrescriptionRequestList(
        items=[PrescriptionRequestOut.of(view) for view in page.views],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/prescriptions/requests/{request_id}",
    summary="One prescription request",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS, gp.NotAvailableAtPractice, gp.NotFoundInGPSystem
    ),
)
async def get_request(
    request_id: RequestID, acting: ActingForPrescriptions
) -> PrescriptionRequestOut:
    """One prescription request, with its medicines and status."""
    return PrescriptionRequestOut.of(await service.get_request(acting, request_id))


@router.post(
    "/prescriptions/requests/{request_id}/cancel",
    summary="Cancel a request the practice has not dealt with yet",
    description="Only while it is `requested`, and only where the practice's system allows "
    "it (`cancellable` on the request says so, with the reason when not).",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        gp.NotAvailableAtPractice,
        gp.NotFoundInGPSystem,
        gp.RequestNotCancellable,
    ),
)
async def cancel_request(
    request_id: RequestID,
    acting: ActingForPrescriptions,
    session: SessionDep,
    clock: ClockDep,
) -> PrescriptionRequestOut:
    view = await service.cancel_request(acting, session, clock, request_id=request_id)
    return PrescriptionRequestOut.of(view)


@router.get(
    "/pharmacy",
    summary="The nominated pharmacy",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, gp.NotAvailableAtPractice),
)
async def get_nominated_pharmacy(acting: ActingForPrescriptions) -> NominatedPharmacy:
    """The pharmacy the patient's prescriptions are sent to electronically, or `null`."""
    pharmacy = await service.nominated_pharmacy(acting)
    return NominatedPharmacy(pharmacy=NominatedPharmacyOut.of(pharmacy) if pharmacy else None)


@router.put(
    "/pharmacy",
    summary="Change the nominated pharmacy (the patient only)",
    description="Choose the pharmacy with `GET /v1/pharmacies`. People acting for the "
    "patient cannot change it: they get `403` with the reason.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        gp.NotAvailableAtPractice,
        UNKNOWN_PHARMACY,
        PharmacyDirectoryUnavailable,
    ),
)
async def nominate_pharmacy(
    body: Annotated[NominationIn, Body(openapi_examples=NOMINATION_EXAMPLES)],
    acting: ActingForPharmacyChange,
    session: SessionDep,
    clock: ClockDep,
    directory: PharmacyDirectoryDep,
) -> NominatedPharmacy:
    pharmacy = await service.nominate_pharmacy(
        acting, session, clock, directory, ods_code=body.ods_code
    )
    return NominatedPharmacy(pharmacy=NominatedPharmacyOut.of(pharmacy))
