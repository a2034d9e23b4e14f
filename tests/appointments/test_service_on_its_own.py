"""The appointment rules with a GP system that enforces none of them.

`LenientGP` books, lists and cancels whatever it is asked, so each rule here holds
only because `app.appointments.service` refuses on its own: the booking window,
the limit on future appointments, the reason policy, the cancellation cut-off and
reasons, and whose appointments can be seen. The database is real (SQLite and
PostgreSQL): booking holds the patient's lock and audits what was done.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.appointments import service
from app.appointments.service import (
    AppointmentView,
    InvalidRequest,
    NotCancellableReason,
    calendar_event,
    cancellability,
    check_reason,
    search_window,
)
from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.auth.types import SignedIn
from app.clock import LONDON, on_englands_clock
from app.cursors import CursorKey
from app.db import create_sessionmaker
from app.gp.errors import (
    BookingLimitReached,
    NotCancellable,
    NotFoundInGPSystem,
    OutsideBookingWindow,
    ReasonRequired,
    TooLateToCancel,
)
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    CancellationReason,
    Clinician,
    Patient,
    PracticeSettings,
    RecordAccessLevel,
    RelationshipKind,
    Slot,
)
from app.patients.ids import ShownIds
from app.patients.rules import ALLOWED, Access
from app.patients.service import ActingFor, Profile
from app.problems import ProblemKind
from tests.conftest import FakeClock

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
DR = Clinician("Dr Amina Shah", "GP")
PRACTICE = PracticeSettings(
    ods_code="A81001",
    name="Riverside Surgery",
    appointments_enabled=True,
    prescriptions_enabled=True,
    record_enabled=True,
    booking_reason=BookingReasonPolicy.OPTIONAL,
    booking_reason_max_length=20,
    max_future_appointments=2,
    booking_window=timedelta(days=28),
    default_search_window=timedelta(days=7),
    cancellation_cutoff=timedelta(hours=3),
    has_cancellation_reasons=True,
    max_prescription_items=4,
    prescription_note_max_length=200,
    minimum_reorder_interval=timedelta(days=20),
)


def appointment(
    appointment_id: str,
    start: datetime,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    minutes: int = 10,
) -> Appointment:
    return Appointment(
        appointment_id,
        "patient-ref-1",
        start,
        start + timedelta(minutes=minutes),
        AppointmentType.IN_PERSON,
        DR,
        "Room 1",
        status,
    )


class LenientGP:
    """A GP system that does whatever it is asked and remembers what that was."""

    def __init__(self, appointments: list[Appointment] | None = None) -> None:
        self.appointments = list(appointments or [])
        self.bookings: list[BookingRequest] = []
        self.cancelled: list[tuple[str, str, str | None, str]] = []
        self.searches: list[tuple[datetime, datetime, str, Any, Any]] = []
        self.slots: list[Slot] = []
        self.reasons = [CancellationReason("1", "No longer needed"), CancellationReason("2", "Ill")]

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        return [a for a in self.appointments if a.patient_ref == patient_ref]

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        self.bookings.append(request)
        booked = replace(
            appointment(f"new-{len(self.bookings)}", NOW + timedelta(days=2)),
            patient_ref=request.patient_ref,
            reason=request.reason,
        )
        self.appointments.append(booked)
        return booked

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        self.cancelled.append((patient_ref, appointment_id, reason_code, actor_ref))
        (found,) = [a for a in self.appointments if a.appointment_id == appointment_id]
        return replace(found, status=AppointmentStatus.CANCELLED)

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return self.reasons

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        patient_ref: str,
        appointment_type: Any,
        clinician: Any,
        limit: int | None = None,
    ) -> list[Slot]:
        """Every slot, whatever the limit (the port allows an adapter to ignore it)."""
        self.searches.append((start, end, patient_ref, appointment_type, clinician))
        return self.slots


def acting(gp: LenientGP, practice: PracticeSettings = PRACTICE) -> ActingFor:
    access = Access(None, ALLOWED, ALLOWED, RecordAccessLevel.FULL, ALLOWED, ALLOWED, ALLOWED)
    patient = Patient("patient-ref-1", "9000000009", "Olivia", "Patel", date(1990, 1, 1), "A81001")
    profile = Profile("patient-id-1", patient, RelationshipKind.SELF, access, practice)
    actor = SignedIn(
        session_id="session-1",
        account_id="account-1",
        nhs_login_sub="sub-1",
        nhs_number="9000000009",
        identity_level="P9",
        ods_code="A81001",
        gp_user_ref="gp-user-1",
        expires_at=NOW + timedelta(hours=12),
        idle_expires_at=NOW + timedelta(minutes=30),
        via="bearer",
    )
    return ActingFor(
        actor,
        "actor-ref-1",
        profile,
        gp,  # type: ignore[arg-type]
        ids=ShownIds("test-secret", patient.ods_code, patient.patient_ref),
        cursor_key=CursorKey("test-cursor-secret"),
    )


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def at_now() -> FakeClock:
    return FakeClock(NOW)


async def audited(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as db:
        rows = await db.scalars(select(AuditRecord).order_by(AuditRecord.sequence))
        return [(r.action, r.actor_id, r.patient_id, r.target) for r in rows]


async def book(
    gp: LenientGP,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    *,
    practice: PracticeSettings = PRACTICE,
    reason: str | None = None,
) -> AppointmentView:
    async with sessions() as db:
        return await service.book(
            acting(gp, practice),
            db,
            sessions,
            clock,
            slot_id="slot-1",
            reason=reason,
            telephone_number="07700900123",
        )


async def cancel(
    gp: LenientGP,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    appointment_id: str,
    *,
    practice: PracticeSettings = PRACTICE,
    reason_code: str | None = "1",
) -> AppointmentView:
    async with sessions() as db:
        return await service.cancel(
            acting(gp, practice), db, clock, appointment_id=appointment_id, reason_code=reason_code
        )


# --- booking --------------------------------------------------------------------------


async def test_booking_sends_who_books_what_and_audits_it(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP()
    view = await book(gp, sessions, at_now, reason="  Rash  ")
    assert gp.bookings == [
        BookingRequest(
            patient_ref="patient-ref-1",
            slot_id="slot-1",
            actor_ref="actor-ref-1",
            reason="Rash",
            telephone_number="07700900123",
        )
    ]
    assert view.appointment.appointment_id == "new-1"
    assert (view.cancellable, view.not_cancellable_reason) == (True, None)
    assert await audited(sessions) == [
        (AuditAction.APPOINTMENT_BOOKED, "account-1", "patient-id-1", "new-1")
    ]


async def test_the_limit_counts_future_booked_appointments_only(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP(
        [
            appointment("future", NOW + timedelta(days=1)),
            appointment("started", NOW, minutes=30),  # under way: does not count
            appointment("past", NOW - timedelta(days=1)),
            appointment("cancelled", NOW + timedelta(days=3), AppointmentStatus.CANCELLED),
            replace(appointment("other", NOW + timedelta(days=4)), patient_ref="someone-else"),
        ]
    )
    await book(gp, sessions, at_now)  # one future appointment of two allowed
    with pytest.raises(BookingLimitReached):
        await book(gp, sessions, at_now)
    assert len(gp.bookings) == 1
    assert [a[0] for a in await audited(sessions)] == [AuditAction.APPOINTMENT_BOOKED]


async def test_the_limit_is_the_practices(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP([appointment("future", NOW + timedelta(days=1))])
    with pytest.raises(BookingLimitReached):
        await book(gp, sessions, at_now, practice=replace(PRACTICE, max_future_appointments=1))
    assert gp.bookings == []


@pytest.mark.parametrize(
    ("policy", "reason", "expected"),
    [
        (BookingReasonPolicy.OPTIONAL, None, None),
        (BookingReasonPolicy.OPTIONAL, "   ", None),
        (BookingReasonPolicy.OPTIONAL, " Cough ", "Cough"),
        (BookingReasonPolicy.MANDATORY, "Cough", "Cough"),
        (BookingReasonPolicy.NOT_REQUESTED, None, None),
        (BookingReasonPolicy.NOT_REQUESTED, "  ", None),
        (BookingReasonPolicy.OPTIONAL, "x" * 20, "x" * 20),
    ],
)
def test_a_reason_the_policy_accepts(
    policy: BookingReasonPolicy, reason: str | None, expected: str | None
) -> None:
    assert check_reason(replace(PRACTICE, booking_reason=policy), reason) == expected


def test_a_reason_the_practice_does_not_ask_for_is_refused() -> None:
    practice = replace(PRACTICE, booking_reason=BookingReasonPolicy.NOT_REQUESTED)
    with pytest.raises(InvalidRequest) as refused:
        check_reason(practice, "Cough")
    assert refused.value.code == "reason_not_requested"
    assert refused.value.status == 422


@pytest.mark.parametrize("reason", [None, " \t "])
def test_a_mandatory_reason_must_be_given(reason: str | None) -> None:
    with pytest.raises(ReasonRequired):
        check_reason(replace(PRACTICE, booking_reason=BookingReasonPolicy.MANDATORY), reason)


def test_a_reason_longer_than_the_practice_allows_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_reason(PRACTICE, "x" * 21)
    assert refused.value.code == "reason_too_long"
    assert refused.value.detail == "Please keep the reason to 20 characters or fewer."


async def test_a_refused_reason_never_reaches_the_gp_system(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP()
    with pytest.raises(InvalidRequest):
        await book(gp, sessions, at_now, reason="x" * 21)
    assert gp.bookings == []


# --- the booking window --------------------------------------------------------------------


def test_the_default_search_is_the_practices_usual_window() -> None:
    week = on_englands_clock(NOW, timedelta(days=7))
    assert search_window(PRACTICE, NOW, None, None) == (NOW, week)
    near_the_end = NOW + timedelta(days=25)
    assert search_window(PRACTICE, NOW, near_the_end, None) == (
        near_the_end,
        on_englands_clock(NOW, timedelta(days=28)),
    )


def test_a_search_starting_in_the_past_starts_now() -> None:
    start, end = search_window(PRACTICE, NOW, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert (start, end) == (NOW, NOW + timedelta(days=1))


def test_a_time_without_an_offset_is_england_time() -> None:
    summer = datetime(2030, 7, 1, 9, 0, tzinfo=UTC)
    start, end = search_window(
        PRACTICE, summer, datetime(2030, 7, 2, 10, 0), datetime(2030, 7, 2, 12, 0)
    )
    assert start == datetime(2030, 7, 2, 10, 0, tzinfo=LONDON)
    assert start.utcoffset() == timedelta(hours=1)
    assert end == datetime(2030, 7, 2, 12, 0, tzinfo=LONDON)


def test_the_window_is_counted_on_englands_clock_across_the_clocks_changing() -> None:
    # 10:00 on 10 October (BST): 28 days later is 10:00 on 7 November (GMT), an hour
    # later in UTC than 28 days of hours.
    # (The clock gives UTC, as the service's own does.)
    before_autumn = datetime(2030, 10, 10, 10, 0, tzinfo=LONDON).astimezone(UTC)
    last = datetime(2030, 11, 7, 10, 0, tzinfo=LONDON)
    assert search_window(PRACTICE, before_autumn, None, last)[1] == last
    with pytest.raises(OutsideBookingWindow):
        search_window(PRACTICE, before_autumn, None, last + timedelta(seconds=1))
    # And in spring, 28 days of hours would run an hour past it.
    before_spring = datetime(2030, 3, 20, 10, 0, tzinfo=LONDON).astimezone(UTC)
    with pytest.raises(OutsideBookingWindow):
        search_window(PRACTICE, before_spring, None, datetime(2030, 4, 17, 10, 30, tzinfo=LONDON))
    # The default search (7 days) ends at the same time of day too.
    before_the_change = datetime(2030, 10, 25, 9, 0, tzinfo=LONDON).astimezone(UTC)
    assert search_window(PRACTICE, before_the_change, None, None)[1] == datetime(
        2030, 11, 1, 9, 0, tzinfo=LONDON
    )


def test_the_last_moment_of_the_window_may_be_searched() -> None:
    latest = on_englands_clock(NOW, PRACTICE.booking_window)
    assert search_window(PRACTICE, NOW, NOW, latest) == (NOW, latest)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOW + timedelta(days=28), None),  # starts at the end of the window
        (NOW, NOW + timedelta(days=28, seconds=1)),  # ends past it
    ],
)
def test_a_search_past_the_window_is_refused(start: datetime, end: datetime | None) -> None:
    with pytest.raises(OutsideBookingWindow) as refused:
        search_window(PRACTICE, NOW, start, end)
    assert refused.value.detail == (
        "Your practice lets you book up to 28 days ahead. Choose an earlier date."
    )


@pytest.mark.parametrize("end", [NOW, NOW - timedelta(hours=1)])
def test_a_range_that_ends_by_now_is_refused(end: datetime) -> None:
    with pytest.raises(OutsideBookingWindow) as refused:
        search_window(PRACTICE, NOW, NOW - timedelta(days=2), end)
    assert refused.value.detail == (
        "Appointments can only be booked from now on. Choose a later date."
    )


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(hours=-1)])
def test_a_range_that_ends_before_it_starts_is_invalid(gap: timedelta) -> None:
    start = NOW + timedelta(days=1)
    with pytest.raises(InvalidRequest) as refused:
        search_window(PRACTICE, NOW, start, start + gap)
    assert refused.value.code == "invalid_range"


async def test_the_search_asks_the_gp_system_for_the_window_and_pages(at_now: FakeClock) -> None:
    gp = LenientGP()
    gp.slots = [
        Slot(
            f"s{n}",
            NOW + timedelta(hours=n),
            NOW + timedelta(hours=n, minutes=10),
            AppointmentType.VIDEO,
            DR,
            "Room 1",
            "Morning",
        )
        for n in (3, 1, 2)
    ]
    found = await service.search_slots(
        acting(gp),
        now=NOW,
        start=None,
        end=None,
        appointment_type=AppointmentType.VIDEO,
        clinician="Dr Amina Shah",
        limit=2,
    )
    # Made for the patient being booked for (a GP system may search only on their behalf).
    assert gp.searches == [
        (NOW, NOW + timedelta(days=7), "patient-ref-1", AppointmentType.VIDEO, "Dr Amina Shah")
    ]
    assert (found.start, found.end) == (NOW, NOW + timedelta(days=7))
    assert [s.slot_id for s in found.slots] == ["s1", "s2"]
    assert found.next_from == NOW + timedelta(hours=3)


async def test_the_search_asks_for_the_range_the_patient_chose() -> None:
    gp = LenientGP()
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=2)
    found = await service.search_slots(
        acting(gp), now=NOW, start=start, end=end, appointment_type=None, clinician=None, limit=5
    )
    assert gp.searches == [(start, end, "patient-ref-1", None, None)]
    assert (found.start, found.end, found.slots, found.next_from) == (start, end, [], None)


# --- listing and cancelling --------------------------------------------------------------------


async def test_upcoming_and_past_lists(at_now: FakeClock) -> None:
    gp = LenientGP(
        [
            appointment("later", NOW + timedelta(days=2)),
            appointment("sooner", NOW + timedelta(days=1)),
            appointment("under-way", NOW - timedelta(minutes=5)),
            appointment("just-ended", NOW - timedelta(minutes=10)),
            appointment("long-ago", NOW - timedelta(days=30)),
            appointment("cancelled", NOW + timedelta(days=3), AppointmentStatus.CANCELLED),
        ]
    )
    # Split by time alone: a future appointment that was cancelled is still upcoming.
    upcoming = await service.list_appointments(acting(gp), now=NOW, upcoming=True)
    assert [v.appointment.appointment_id for v in upcoming] == [
        "under-way",
        "sooner",
        "later",
        "cancelled",
    ]
    assert [v.not_cancellable_reason for v in upcoming] == [
        NotCancellableReason.IN_THE_PAST,
        None,
        None,
        NotCancellableReason.NOT_BOOKED,
    ]
    past = await service.list_appointments(acting(gp), now=NOW, upcoming=False)
    assert [v.appointment.appointment_id for v in past] == ["just-ended", "long-ago"]


async def test_only_this_patients_appointment_is_found(at_now: FakeClock) -> None:
    theirs = replace(appointment("theirs", NOW + timedelta(days=1)), patient_ref="someone-else")
    gp = LenientGP([appointment("mine", NOW + timedelta(days=1)), theirs])
    found = await service.get_appointment(acting(gp), "mine", now=NOW)
    assert found.appointment.appointment_id == "mine"
    with pytest.raises(NotFoundInGPSystem) as refused:
        await service.get_appointment(acting(gp), "theirs", now=NOW)
    assert refused.value.detail == "We could not find this appointment."
    with pytest.raises(NotFoundInGPSystem):
        await service.calendar_for(acting(gp), "theirs", now=NOW)


async def test_the_calendar_of_an_appointment_names_the_practice() -> None:
    gp = LenientGP([appointment("mine", NOW + timedelta(days=1))])
    ics = await service.calendar_for(acting(gp), "mine", now=NOW - timedelta(hours=1))
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert str(event["uid"]) == "mine@gp-online"
    assert event["summary"] == "GP appointment at Riverside Surgery"
    assert event.decoded("dtstamp") == NOW - timedelta(hours=1)


def test_cancellability_at_each_boundary() -> None:
    cutoff = PRACTICE.cancellation_cutoff
    assert cancellability(appointment("a", NOW + cutoff), PRACTICE, NOW) is None
    assert cancellability(appointment("a", NOW + cutoff - timedelta(seconds=1)), PRACTICE, NOW) is (
        NotCancellableReason.TOO_LATE
    )
    assert cancellability(appointment("a", NOW), PRACTICE, NOW) is NotCancellableReason.IN_THE_PAST
    no_cutoff = replace(PRACTICE, cancellation_cutoff=timedelta(0))
    assert cancellability(appointment("a", NOW + timedelta(seconds=1)), no_cutoff, NOW) is None
    assert cancellability(appointment("a", NOW), no_cutoff, NOW) is (
        NotCancellableReason.IN_THE_PAST
    )
    attended = appointment("a", NOW + timedelta(days=1), AppointmentStatus.ATTENDED)
    assert cancellability(attended, PRACTICE, NOW) is NotCancellableReason.NOT_BOOKED


async def test_cancelling_sends_the_reason_and_who_cancels_and_audits_it(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP([appointment("a-1", NOW + timedelta(days=1))])
    view = await cancel(gp, sessions, at_now, "a-1", reason_code="2")
    assert gp.cancelled == [("patient-ref-1", "a-1", "2", "actor-ref-1")]
    assert view.appointment.status is AppointmentStatus.CANCELLED
    assert (view.cancellable, view.not_cancellable_reason) == (
        False,
        NotCancellableReason.NOT_BOOKED,
    )
    assert await audited(sessions) == [
        (AuditAction.APPOINTMENT_CANCELLED, "account-1", "patient-id-1", "a-1")
    ]


@pytest.mark.parametrize(
    ("start", "status", "refusal", "detail"),
    [
        (NOW + timedelta(hours=2), AppointmentStatus.BOOKED, TooLateToCancel, None),
        (
            NOW,
            AppointmentStatus.BOOKED,
            NotCancellable,
            "Only future appointments can be cancelled.",
        ),
        (
            NOW + timedelta(days=1),
            AppointmentStatus.CANCELLED,
            NotCancellable,
            "This appointment is not booked, so there is nothing to cancel.",
        ),
    ],
)
async def test_what_cannot_be_cancelled_never_reaches_the_gp_system(
    sessions: async_sessionmaker[AsyncSession],
    at_now: FakeClock,
    start: datetime,
    status: AppointmentStatus,
    refusal: type[Exception],
    detail: str | None,
) -> None:
    gp = LenientGP([appointment("a-1", start, status)])
    with pytest.raises(refusal) as refused:
        await cancel(gp, sessions, at_now, "a-1")
    if detail is not None:
        assert refused.value.detail == detail  # type: ignore[attr-defined]
    assert gp.cancelled == []
    assert await audited(sessions) == []


@pytest.mark.parametrize(
    ("has_reasons", "reason_code", "code"),
    [
        (False, "1", "cancellation_reason_not_used"),
        (True, None, "cancellation_reason_required"),
        (True, "9", "unknown_cancellation_reason"),
    ],
)
async def test_the_cancellation_reason_follows_the_practice(
    sessions: async_sessionmaker[AsyncSession],
    at_now: FakeClock,
    has_reasons: bool,
    reason_code: str | None,
    code: str,
) -> None:
    gp = LenientGP([appointment("a-1", NOW + timedelta(days=1))])
    practice = replace(PRACTICE, has_cancellation_reasons=has_reasons)
    with pytest.raises(InvalidRequest) as refused:
        await cancel(gp, sessions, at_now, "a-1", practice=practice, reason_code=reason_code)
    assert refused.value.code == code
    assert gp.cancelled == []


async def test_a_practice_without_reasons_cancels_without_one(
    sessions: async_sessionmaker[AsyncSession], at_now: FakeClock
) -> None:
    gp = LenientGP([appointment("a-1", NOW + timedelta(days=1))])
    practice = replace(PRACTICE, has_cancellation_reasons=False)
    await cancel(gp, sessions, at_now, "a-1", practice=practice, reason_code=None)
    assert gp.cancelled == [("patient-ref-1", "a-1", None, "actor-ref-1")]
    assert await service.cancellation_reasons(acting(gp, practice)) == []
    assert [r.code for r in await service.cancellation_reasons(acting(gp))] == ["1", "2"]


# --- the calendar event -------------------------------------------------------------------------


def test_the_calendar_event_holds_what_the_app_showed_and_no_reason() -> None:
    booked = replace(
        appointment("a-1", NOW + timedelta(days=1)),
        type=AppointmentType.TELEPHONE,
        reason="Worried about a lump",
    )
    ics = calendar_event(booked, "Riverside Surgery", stamp=NOW)
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert str(event["uid"]) == "a-1@gp-online"
    assert event["summary"] == "GP telephone appointment at Riverside Surgery"
    assert event["location"] == "Room 1"
    assert event["description"] == (
        "With Dr Amina Shah (GP). To cancel, use the app or call your practice."
    )
    assert event.decoded("dtstart") == booked.start
    assert event.decoded("dtend") == booked.end
    assert event.decoded("dtstamp") == NOW
    assert "STATUS" not in event
    assert b"lump" not in ics
    calendar = icalendar.Calendar.from_ical(ics)
    assert (str(calendar["version"]), str(calendar["prodid"])) == (
        "2.0",
        "-//GP Online//Appointments//EN",
    )


def test_a_cancelled_appointment_is_a_cancelled_event() -> None:
    cancelled = appointment("a-1", NOW + timedelta(days=1), AppointmentStatus.CANCELLED)
    event = icalendar.Calendar.from_ical(calendar_event(cancelled, "X", stamp=NOW)).walk("VEVENT")[
        0
    ]
    assert event["status"] == "CANCELLED"
    assert event["summary"] == "GP appointment at X"


def test_each_invalid_request_kind_is_a_422_with_its_code_and_detail() -> None:
    kind = service._invalid("reason_too_long", "Keep it short.")
    assert kind == ProblemKind(422, "reason_too_long", "Invalid request", "Keep it short.")
