"""Appointment rules: the booking window, limits, reasons and the cancellation cut-off.

The practice's policy comes from its GP system (with any overrides from the
practices file). The GP system enforces its own rules too; checking here first
gives patients the same clear answer whatever the supplier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from icalendar import Calendar, Event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record_completed
from app.audit.types import AuditAction
from app.clock import LONDON, Clock, on_englands_clock
from app.gp.errors import (
    BookingLimitReached,
    NotCancellable,
    NotFoundInGPSystem,
    OutsideBookingWindow,
    ReasonRequired,
    SlotNotFound,
    TooLateToCancel,
)
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    CancellationReason,
    PracticeSettings,
    Slot,
)
from app.idempotency.locks import one_at_a_time
from app.patients.service import ActingFor
from app.problems import Problem, ProblemKind


class InvalidRequest(Problem):
    status = 422
    title = "Invalid request"

    def __init__(self, kind: ProblemKind, detail: str | None = None) -> None:
        self.code = kind.code
        super().__init__(detail or kind.detail)


def _invalid(code: str, detail: str) -> ProblemKind:
    return ProblemKind(InvalidRequest.status, code, InvalidRequest.title, detail)


# The codes `InvalidRequest` is raised with, named for the OpenAPI document.
INVALID_RANGE = _invalid("invalid_range", "The end of the range must be after its start.")
REASON_NOT_REQUESTED = _invalid(
    "reason_not_requested",
    "Your practice does not ask for a reason when booking. Please leave it out.",
)
REASON_TOO_LONG = _invalid("reason_too_long", "Please keep the reason to 200 characters or fewer.")
CANCELLATION_REASON_NOT_USED = _invalid(
    "cancellation_reason_not_used",
    "Your practice does not ask for a reason when cancelling. Please leave it out.",
)
CANCELLATION_REASON_REQUIRED = _invalid(
    "cancellation_reason_required",
    "Your practice asks why you are cancelling. Choose one of its reasons.",
)
UNKNOWN_CANCELLATION_REASON = _invalid(
    "unknown_cancellation_reason",
    "That is not one of your practice's cancellation reasons. Choose one from the list.",
)


class NotCancellableReason(StrEnum):
    IN_THE_PAST = "in_the_past"
    TOO_LATE = "too_late_to_cancel"
    NOT_BOOKED = "not_booked"


@dataclass(frozen=True, slots=True)
class AppointmentView:
    appointment: Appointment
    cancellable: bool
    not_cancellable_reason: NotCancellableReason | None


@dataclass(frozen=True, slots=True)
class SlotSearch:
    start: datetime
    end: datetime
    slots: list[Slot]
    next_from: datetime | None  # where the next page starts, when there are more


def _practice(acting: ActingFor) -> PracticeSettings:
    return acting.profile.practice


def _in_england(moment: datetime | None) -> datetime | None:
    """A time sent without an offset is read as England's local time, as practices keep it."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=LONDON)


def search_window(
    practice: PracticeSettings, now: datetime, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The range to search: by default the practice's usual window; never past its maximum."""
    start, end = _in_england(start), _in_england(end)
    if start is not None and end is not None and end <= start:
        raise InvalidRequest(INVALID_RANGE)
    latest = on_englands_clock(now, practice.booking_window)
    start = max(start or now, now)
    days = practice.booking_window.days
    if start >= latest or (end is not None and end > latest):
        raise OutsideBookingWindow(
            f"Your practice lets you book up to {days} days ahead. Choose an earlier date."
        )
    if end is not None and end <= start:
        raise OutsideBookingWindow(
            "Appointments can only be booked from now on. Choose a later date."
        )
    end = end or min(on_englands_clock(start, practice.default_search_window), latest)
    return start, end


async def search_slots(
    acting: ActingFor,
    *,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
    appointment_type: AppointmentType | None,
    clinician: str | None,
    limit: int,
) -> SlotSearch:
    """Free slots, earliest first, at most `limit`; `next_from` continues the list."""
    start, end = search_window(_practice(acting), now, start, end)
    # One more than the page: whether there is a next page, and where it starts.
    asked = limit + 1
    slots = await acting.system.search_slots(
        start,
        end,
        patient_ref=acting.patient_ref,
        appointment_type=appointment_type,
        clinician=clinician,
        limit=asked,
    )
    if len(slots) == asked and slots[0].start == slots[-1].start:
        # More slots start at that one time than a page holds, and a page never splits
        # them (`paginate`): ask again for all of them (rare: a second GP call).
        slots = await acting.system.search_slots(
            start,
            end,
            patient_ref=acting.patient_ref,
            appointment_type=appointment_type,
            clinician=clinician,
        )
    page, next_from = paginate(slots, limit)
    return SlotSearch(start, end, page, next_from)


def paginate(slots: list[Slot], limit: int) -> tuple[list[Slot], datetime | None]:
    """The earliest slots, at most `limit`, and where the next page starts (None: no more).

    Pages break between start times, so a page never splits slots that start
    together; if more start at one time than a page holds, that page holds them all.
    """
    ordered = sorted(slots, key=lambda slot: (slot.start, slot.slot_id))
    if len(ordered) <= limit:
        return ordered, None
    cut = ordered[limit].start
    page = [slot for slot in ordered[:limit] if slot.start < cut] or [
        slot for slot in ordered if slot.start == ordered[0].start
    ]
    rest = ordered[len(page) :]
    return page, rest[0].start if rest else None


def cancellability(
    appointment: Appointment, practice: PracticeSettings, now: datetime
) -> NotCancellableReason | None:
    """Only future booked appointments, and not inside the practice's cut-off."""
    if appointment.status is not AppointmentStatus.BOOKED:
        return NotCancellableReason.NOT_BOOKED
    if appointment.start <= now:
        return NotCancellableReason.IN_THE_PAST
    if appointment.start - now < practice.cancellation_cutoff:
        return NotCancellableReason.TOO_LATE
    return None


def _view(appointment: Appointment, practice: PracticeSettings, now: datetime) -> AppointmentView:
    reason = cancellability(appointment, practice, now)
    return AppointmentView(appointment, reason is None, reason)


def _upcoming(appointment: Appointment, now: datetime) -> bool:
    """Not over yet, whatever its status: a future appointment the patient cancelled is not
    in their past, and they look for it where it was, marked cancelled."""
    return appointment.end > now


async def list_appointments(
    acting: ActingFor, *, now: datetime, upcoming: bool
) -> list[AppointmentView]:
    appointments = await acting.system.list_appointments(acting.patient_ref)
    chosen = [a for a in appointments if _upcoming(a, now) == upcoming]
    chosen.sort(key=lambda a: a.start, reverse=not upcoming)
    return [_view(a, _practice(acting), now) for a in chosen]


async def get_appointment(
    acting: ActingFor, appointment_id: str, *, now: datetime
) -> AppointmentView:
    return _view(await _find(acting, appointment_id), _practice(acting), now)


async def _find(acting: ActingFor, appointment_id: str) -> Appointment:
    # Looked up among this patient's own appointments: another patient's id is simply not there.
    for appointment in await acting.system.list_appointments(acting.patient_ref):
        if appointment.appointment_id == appointment_id:
            return appointment
    raise NotFoundInGPSystem("We could not find this appointment.")


def check_reason(practice: PracticeSettings, reason: str | None) -> str | None:
    """Apply the practice's booking-reason policy (not requested / optional / mandatory)."""
    reason = (reason or "").strip() or None
    if practice.booking_reason is BookingReasonPolicy.NOT_REQUESTED and reason is not None:
        raise InvalidRequest(REASON_NOT_REQUESTED)
    if practice.booking_reason is BookingReasonPolicy.MANDATORY and reason is None:
        raise ReasonRequired()
    if reason is not None and len(reason) > practice.booking_reason_max_length:
        raise InvalidRequest(
            REASON_TOO_LONG,
            f"Please keep the reason to {practice.booking_reason_max_length} characters or fewer.",
        )
    return reason


async def book(
    acting: ActingFor,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    slot_id: str,
    reason: str | None,
    telephone_number: str | None,
) -> AppointmentView:
    practice = _practice(acting)
    reason = check_reason(practice, reason)
    # One booking at a time per patient, so two at once cannot both pass the limit.
    async with one_at_a_time(sessions, f"book:{acting.patient_id}"):
        now = clock.now()
        # The limit counts future appointments, as the GP systems count them: one that
        # has already started does not stop the patient booking the next.
        booked = [
            a
            for a in await acting.system.list_appointments(acting.patient_ref)
            if a.status is AppointmentStatus.BOOKED and a.start > now
        ]
        if len(booked) >= practice.max_future_appointments:
            raise BookingLimitReached()
        try:
            appointment = await acting.system.book_appointment(
                BookingRequest(
                    patient_ref=acting.patient_ref,
                    slot_id=slot_id,
                    actor_ref=acting.actor_ref,
                    reason=reason,
                    telephone_number=telephone_number,
                )
            )
        except NotFoundInGPSystem as missing:
            # The patient was found in resolving who we act for: what is missing is the slot.
            raise SlotNotFound(supplier_code=missing.supplier_code) from missing
    await record_completed(
        session,
        clock,
        acting.audit_event(AuditAction.APPOINTMENT_BOOKED, appointment.appointment_id),
    )
    return _view(appointment, practice, now)


async def booked_in_slot(
    acting: ActingFor, slot_id: str, *, now: datetime
) -> AppointmentView | None:
    """The patient's booked appointment in `slot_id`, if they have one: a booking whose
    answer was lost (its worker died after the GP system booked) is found, not made again."""
    for appointment in await acting.system.list_appointments(acting.patient_ref):
        if appointment.slot_id == slot_id and appointment.status is AppointmentStatus.BOOKED:
            return _view(appointment, _practice(acting), now)
    return None


async def cancellation_reasons(acting: ActingFor) -> list[CancellationReason]:
    if not _practice(acting).has_cancellation_reasons:
        return []
    return await acting.system.list_cancellation_reasons()


async def cancel(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    *,
    appointment_id: str,
    reason_code: str | None,
) -> AppointmentView:
    practice = _practice(acting)
    now = clock.now()
    _refuse_unless_cancellable(await _find(acting, appointment_id), practice, now)
    await _check_cancellation_reason(acting, practice, reason_code)
    try:
        cancelled = await acting.system.cancel_appointment(
            acting.patient_ref, appointment_id, reason_code=reason_code, actor_ref=acting.actor_ref
        )
    except NotCancellable:
        # Cancellable when read a moment ago, so it changed since: most often another
        # cancel took it first. Read it again to answer as a second cancel is answered.
        _refuse_unless_cancellable(await _find(acting, appointment_id), practice, now)
        raise
    await record_completed(
        session, clock, acting.audit_event(AuditAction.APPOINTMENT_CANCELLED, appointment_id)
    )
    return _view(cancelled, practice, now)


def _refuse_unless_cancellable(
    appointment: Appointment, practice: PracticeSettings, now: datetime
) -> None:
    why_not = cancellability(appointment, practice, now)
    if why_not is NotCancellableReason.TOO_LATE:
        raise TooLateToCancel()
    if why_not is NotCancellableReason.IN_THE_PAST:
        raise NotCancellable("Only future appointments can be cancelled.")
    if why_not is NotCancellableReason.NOT_BOOKED:
        raise NotCancellable("This appointment is not booked, so there is nothing to cancel.")


async def _check_cancellation_reason(
    acting: ActingFor, practice: PracticeSettings, reason_code: str | None
) -> None:
    if not practice.has_cancellation_reasons:
        if reason_code is not None:
            raise InvalidRequest(CANCELLATION_REASON_NOT_USED)
        return
    reasons = {reason.code for reason in await acting.system.list_cancellation_reasons()}
    if reason_code is None:
        raise InvalidRequest(CANCELLATION_REASON_REQUIRED)
    if reason_code not in reasons:
        raise InvalidRequest(UNKNOWN_CANCELLATION_REASON)


_TYPE_WORDS = {
    AppointmentType.IN_PERSON: "GP appointment",
    AppointmentType.TELEPHONE: "GP telephone appointment",
    AppointmentType.VIDEO: "GP video appointment",
}


def calendar_event(appointment: Appointment, practice_name: str, *, stamp: datetime) -> bytes:
    """An iCalendar event with only what the app showed: time, type, clinician and place.

    The booking reason is left out: calendars are often shared or synced.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//GP Online//Appointments//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{appointment.appointment_id}@gp-online")
    event.add("dtstamp", stamp)
    event.add("dtstart", appointment.start)
    event.add("dtend", appointment.end)
    event.add("summary", f"{_TYPE_WORDS[appointment.type]} at {practice_name}")
    event.add("location", appointment.location)
    event.add(
        "description",
        f"With {appointment.clinician.name} ({appointment.clinician.role}). "
        "To cancel, use the app or call your practice.",
    )
    if appointment.status is AppointmentStatus.CANCELLED:
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


async def calendar_for(acting: ActingFor, appointment_id: str, *, now: datetime) -> bytes:
    appointment = await _find(acting, appointment_id)
    return calendar_event(appointment, _practice(acting).name, stamp=now)
