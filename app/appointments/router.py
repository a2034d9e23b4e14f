"""`/v1/patients/{patient_id}/slots` and `/appointments`: find, book and cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from app.appointments import service
from app.appointments.schemas import (
    BOOKING_EXAMPLES,
    CANCEL_EXAMPLES,
    AppointmentList,
    AppointmentOut,
    BookingIn,
    CancelIn,
    CancellationReasonList,
    CancellationReasonOut,
    SlotList,
    SlotOut,
)
from app.appointments.service import (
    CANCELLATION_REASON_NOT_USED,
    CANCELLATION_REASON_REQUIRED,
    INVALID_RANGE,
    REASON_NOT_REQUESTED,
    REASON_TOO_LONG,
    UNKNOWN_CANCELLATION_REASON,
)
from app.clock import ClockDep
from app.db import SessionDep, SessionmakerDep
from app.gp import errors as gp
from app.gp.types import AppointmentType
from app.idempotency.deps import IdempotencyKey
from app.idempotency.service import CREATED_WITH_LOCATION, IDEMPOTENCY_PROBLEMS, create_once
from app.patients.deps import ACTING_FOR_PROBLEMS, ActingForAppointments, PatientID
from app.problems import problem_responses
from app.ratelimit.deps import Budget, RateLimited
from app.schemas import IsoDateTime

router = APIRouter(prefix="/v1/patients/{patient_id}", tags=["appointments"])

AppointmentID = Annotated[
    str, Path(description="The appointment's id, from the list.", min_length=1, max_length=128)
]
MAX_SLOTS = 500


@router.get(
    "/slots",
    summary="Free appointment slots",
    description="Within the practice's booking window; by default its usual search range.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, INVALID_RANGE, gp.OutsideBookingWindow),
)
async def search_slots(
    acting: ActingForAppointments,
    clock: ClockDep,
    start: Annotated[IsoDateTime | None, Query(alias="from", description="Earliest start.")] = None,
    end: Annotated[IsoDateTime | None, Query(alias="to", description="Latest start.")] = None,
    type: Annotated[AppointmentType | None, Query(description="Only this kind.")] = None,
    clinician: Annotated[str | None, Query(max_length=100, description="Name contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SLOTS, description="Most slots to return.")] = 100,
) -> SlotList:
    found = await service.search_slots(
        acting,
        now=clock.now(),
        start=start,
        end=end,
        appointment_type=type,
        clinician=clinician,
        limit=limit,
    )
    return SlotList(
        start=found.start,
        end=found.end,
        items=[SlotOut.of(s) for s in found.slots],
        next_from=found.next_from,
    )


@router.get(
    "/appointments",
    summary="The patient's appointments, with what they may do next",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_appointments(
    acting: ActingForAppointments,
    clock: ClockDep,
    when: Annotated[
        Literal["upcoming", "past"],
        Query(
            description="`upcoming`: not yet over, soonest first, including ones cancelled "
            "(`status` `cancelled`): a future appointment the patient cancelled is not in "
            "their past. `past`: over (attended, missed or cancelled), newest first."
        ),
    ] = "upcoming",
) -> AppointmentList:
    """Each with `cancellable` and, when not, the reason (`too_late_to_cancel`, `in_the_past`,
    `not_booked`).
    """
    views = await service.list_appointments(acting, now=clock.now(), upcoming=when == "upcoming")
    return AppointmentList(items=[AppointmentOut.of(v) for v in views])


@router.post(
    "/appointments",
    status_code=201,
    summary="Book a slot",
    response_model=AppointmentOut,
    responses={
        **CREATED_WITH_LOCATION,
        **problem_responses(
            *ACTING_FOR_PROBLEMS,
            *IDEMPOTENCY_PROBLEMS,
            gp.SlotUnavailable,
            gp.BookingLimitReached,
            gp.OutsideBookingWindow,
            gp.ReasonRequired,
            REASON_NOT_REQUESTED,
            REASON_TOO_LONG,
            gp.SlotNotFound,
        ),
    },
    dependencies=[Depends(RateLimited(Budget.BOOKING))],
)
async def book_appointment(
    patient_id: PatientID,
    body: Annotated[BookingIn, Body(openapi_examples=BOOKING_EXAMPLES)],
    idempotency_key: IdempotencyKey,
    acting: ActingForAppointments,
    session: SessionDep,
    sessions: SessionmakerDep,
    clock: ClockDep,
) -> JSONResponse:
    """Book a slot from `GET …/slots`. Send `reason` only where the practice asks for one
    (`booking_reason` in `GET …/practice`) and `telephone_number` for a telephone
    appointment. Send a new `Idempotency-Key` for each booking you intend; a retry with the
    same key and body returns the first answer. `201` with `Location`.
    """

    async def book() -> tuple[AppointmentOut, str]:
        view = await service.book(
            acting,
            session,
            sessions,
            clock,
            slot_id=body.slot_id,
            reason=body.reason,
            telephone_number=body.telephone_number,
        )
        return _created(patient_id, view)

    async def find_booked() -> tuple[AppointmentOut, str] | None:
        view = await service.booked_in_slot(acting, body.slot_id, now=clock.now())
        return None if view is None else _created(patient_id, view)

    return await create_once(
        sessions,
        account_id=acting.actor.account_id,
        key=idempotency_key,
        scope=f"book:{acting.patient_id}",
        body=body,
        clock=clock,
        create=book,
        find_created=find_booked,
    )


def _created(patient_id: str, view: service.AppointmentView) -> tuple[AppointmentOut, str]:
    out = AppointmentOut.of(view)
    return out, f"/v1/patients/{patient_id}/appointments/{out.appointment_id}"


@router.get(
    "/appointments/cancellation-reasons",
    summary="The practice's reasons for cancelling, where it has them",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_cancellation_reasons(acting: ActingForAppointments) -> CancellationReasonList:
    """Where `required` is true (EMIS-like and Vision-like practices), cancelling needs one of
    these `code`s as `reason_code`; elsewhere send no reason.
    """
    reasons = await service.cancellation_reasons(acting)
    return CancellationReasonList(
        required=acting.profile.practice.has_cancellation_reasons,
        items=[CancellationReasonOut.of(r) for r in reasons],
    )


@router.get(
    "/appointments/{appointment_id}",
    summary="One appointment",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, gp.NotFoundInGPSystem),
)
async def get_appointment(
    appointment_id: AppointmentID,
    acting: ActingForAppointments,
    clock: ClockDep,
) -> AppointmentOut:
    """One of the patient's appointments, past or upcoming, with whether it can be cancelled."""
    return AppointmentOut.of(await service.get_appointment(acting, appointment_id, now=clock.now()))


@router.post(
    "/appointments/{appointment_id}/cancel",
    summary="Cancel a future appointment",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        gp.NotFoundInGPSystem,
        gp.TooLateToCancel,
        gp.NotCancellable,
        CANCELLATION_REASON_REQUIRED,
        CANCELLATION_REASON_NOT_USED,
        UNKNOWN_CANCELLATION_REASON,
    ),
)
async def cancel_appointment(
    appointment_id: AppointmentID,
    body: Annotated[CancelIn, Body(openapi_examples=CANCEL_EXAMPLES)],
    acting: ActingForAppointments,
    session: SessionDep,
    clock: ClockDep,
) -> AppointmentOut:
    """Cancel a future appointment before the practice's cut-off. Fetch
    `…/appointments/cancellation-reasons` first: where `required` is true send
    `{"reason_code": "<code>"}`, otherwise send `{}`.
    """
    view = await service.cancel(
        acting, session, clock, appointment_id=appointment_id, reason_code=body.reason_code
    )
    return AppointmentOut.of(view)


@router.get(
    "/appointments/{appointment_id}/calendar.ics",
    summary="The appointment as a calendar event",
    response_class=Response,
    responses={
        200: {
            # A schema, so generated clients hand back the text rather than nothing.
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "An iCalendar file.",
        },
        **problem_responses(*ACTING_FOR_PROBLEMS, gp.NotFoundInGPSystem),
    },
)
async def get_appointment_calendar(
    appointment_id: AppointmentID,
    acting: ActingForAppointments,
    clock: ClockDep,
) -> Response:
    """An iCalendar file for the appointment (time, place, clinician; never the booking
    reason).
    """
    ics = await service.calendar_for(acting, appointment_id, now=clock.now())
    return Response(
        ics,
        media_type="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="appointment.ics"'},
    )
