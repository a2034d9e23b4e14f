"""Appointments through the port, per supplier profile."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.adapters.sandbox import SandboxGPSystem
from app.gp import errors
from app.gp.types import (
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    Slot,
)
from tests.adapters.sandbox.conftest import PersonaLookup
from tests.conftest import FakeClock

# The sandbox's free slots are the practice's, whoever searches.
SEARCHER = "any-patient"


async def free_slot(system: SandboxGPSystem, clock: FakeClock, days_ahead: int = 3) -> Slot:
    start = clock.now() + timedelta(days=days_ahead)
    slots = await system.search_slots(start, start + timedelta(days=7), patient_ref=SEARCHER)
    return slots[0]


def book(patient_ref: str, slot: Slot, reason: str | None = "Sore throat") -> BookingRequest:
    return BookingRequest(patient_ref=patient_ref, slot_id=slot.slot_id, actor_ref=patient_ref,
                          reason=reason)  # fmt: skip


async def test_practice_settings_per_profile(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, vision: SandboxGPSystem
) -> None:
    e, t, v = [await s.get_practice_settings() for s in (emis, tpp, vision)]
    assert (e.booking_reason, t.booking_reason, v.booking_reason) == (
        BookingReasonPolicy.MANDATORY,
        BookingReasonPolicy.NOT_REQUESTED,
        BookingReasonPolicy.OPTIONAL,
    )
    assert t.cancellation_cutoff >= timedelta(hours=1)  # SystmOne refuses inside an hour
    assert (e.has_cancellation_reasons, t.has_cancellation_reasons) == (True, False)
    assert v.has_cancellation_reasons
    assert e.name == "Riverside Medical Centre"


async def test_cancellation_reasons_per_profile(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, vision: SandboxGPSystem
) -> None:
    assert [r.code for r in await emis.list_cancellation_reasons()] == ["1", "2", "3", "4"]
    assert await tpp.list_cancellation_reasons() == []
    assert [r.code for r in await vision.list_cancellation_reasons()] == ["CR1", "CR2", "CR3"]


async def test_slots_cover_eight_weeks_in_several_types_and_clinicians(
    emis: SandboxGPSystem, clock: FakeClock
) -> None:
    slots = await emis.search_slots(
        clock.now(), clock.now() + timedelta(days=60), patient_ref=SEARCHER
    )
    assert slots == sorted(slots, key=lambda s: s.start)
    assert slots[-1].start > clock.now() + timedelta(days=50)
    assert {s.type for s in slots} == set(AppointmentType)
    assert len({s.clinician.name for s in slots}) == 3
    assert all(s.location and s.session for s in slots)
    video = await emis.search_slots(
        clock.now(),
        clock.now() + timedelta(days=14),
        patient_ref=SEARCHER,
        appointment_type=AppointmentType.VIDEO,
    )
    assert video and all(s.type is AppointmentType.VIDEO for s in video)
    nurse = await emis.search_slots(
        clock.now(), clock.now() + timedelta(days=14), patient_ref=SEARCHER, clinician="ruth bell"
    )
    assert nurse and all(s.clinician.role == "Practice nurse" for s in nurse)


async def test_emis_requires_a_reason_and_books(
    emis: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    slot = await free_slot(emis, clock)
    with pytest.raises(errors.ReasonRequired) as refused:
        await emis.book_appointment(book(patient, slot, reason=None))
    assert refused.value.supplier_code == "-1155"
    appointment = await emis.book_appointment(book(patient, slot))
    assert (appointment.status, appointment.reason, appointment.start) == (
        AppointmentStatus.BOOKED, "Sore throat", slot.start,
    )  # fmt: skip
    after = await emis.search_slots(slot.start, slot.end, patient_ref=patient)
    assert slot.slot_id not in {s.slot_id for s in after}
    assert appointment in await emis.list_appointments(patient)


async def test_taken_slot_limit_and_window(
    emis: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    olivia = persona("adult-full", "A81001").patient_ref  # one upcoming; the limit is two
    james = persona("proxy-parent").patient_ref
    slot = await free_slot(emis, clock)
    await emis.book_appointment(book(olivia, slot))
    with pytest.raises(errors.SlotUnavailable) as taken:
        await emis.book_appointment(book(james, slot))
    assert taken.value.supplier_code == "-1152"
    with pytest.raises(errors.BookingLimitReached) as limit:
        await emis.book_appointment(book(olivia, await free_slot(emis, clock, days_ahead=5)))
    assert limit.value.supplier_code == "-1153"
    far = await free_slot(emis, clock, days_ahead=40)  # EMIS practice books 28 days ahead
    with pytest.raises(errors.OutsideBookingWindow) as window:
        await emis.book_appointment(book(james, far))
    assert window.value.supplier_code == "-1154"
    # A refused booking leaves the slot free.
    assert far in await emis.search_slots(far.start, far.end, patient_ref=james)


async def test_unknown_slot(emis: SandboxGPSystem, persona: PersonaLookup) -> None:
    ref = persona("adult-full", "A81001").patient_ref
    with pytest.raises(errors.NotFoundInGPSystem):
        await emis.book_appointment(
            BookingRequest(patient_ref=ref, slot_id="nope", actor_ref=ref, reason="x")
        )


async def test_tpp_drops_the_reason_and_refuses_cancelling_within_an_hour(
    tpp: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "B82002").patient_ref
    slot = await free_slot(tpp, clock)
    appointment = await tpp.book_appointment(book(patient, slot, reason="Private detail"))
    assert appointment.reason is None  # SystmOne takes no booking reason online
    clock.current = slot.start - timedelta(minutes=59)
    with pytest.raises(errors.TooLateToCancel) as late:
        await tpp.cancel_appointment(
            patient, appointment.appointment_id, reason_code=None, actor_ref=patient
        )
    assert late.value.supplier_code == "1102"
    clock.current = slot.start - timedelta(minutes=61)
    cancelled = await tpp.cancel_appointment(
        patient, appointment.appointment_id, reason_code=None, actor_ref=patient
    )
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.version == "2"
    assert slot in await tpp.search_slots(slot.start, slot.end, patient_ref=patient)  # freed


async def test_vision_cancellation_uses_practice_reasons_and_cut_off(
    vision: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "C83003").patient_ref
    slot = await free_slot(vision, clock)
    appointment = await vision.book_appointment(book(patient, slot, reason=None))  # optional
    with pytest.raises(errors.NotFoundInGPSystem) as unknown:
        await vision.cancel_appointment(
            patient, appointment.appointment_id, reason_code="1", actor_ref=patient
        )
    assert unknown.value.supplier_code == "-33"
    clock.current = slot.start - timedelta(hours=23)  # practice cut-off: 24 hours
    with pytest.raises(errors.TooLateToCancel) as late:
        await vision.cancel_appointment(
            patient, appointment.appointment_id, reason_code="CR2", actor_ref=patient
        )
    assert late.value.supplier_code == "-31"
    clock.current = slot.start - timedelta(hours=25)
    cancelled = await vision.cancel_appointment(
        patient, appointment.appointment_id, reason_code="CR2", actor_ref=patient
    )
    assert cancelled.cancellation_reason == "I cannot make this time"
    with pytest.raises(errors.NotCancellable) as again:
        await vision.cancel_appointment(
            patient, appointment.appointment_id, reason_code=None, actor_ref=patient
        )
    assert again.value.supplier_code == "-32"


async def test_past_appointments_cannot_be_cancelled(
    emis: SandboxGPSystem, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    appointments = await emis.list_appointments(patient)
    statuses = {a.status for a in appointments}
    assert statuses == set(AppointmentStatus)  # attended, missed, cancelled, upcoming
    past = next(a for a in appointments if a.status is AppointmentStatus.ATTENDED)
    with pytest.raises(errors.NotCancellable):
        await emis.cancel_appointment(
            patient, past.appointment_id, reason_code="1", actor_ref=patient
        )
    with pytest.raises(errors.NotFoundInGPSystem):
        await emis.cancel_appointment(patient, "missing", reason_code=None, actor_ref=patient)


async def test_proxy_booking_records_who_booked(
    emis: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    parent = persona("proxy-parent")
    child = parent.acts_for[0].patient_ref
    appointment = await emis.book_appointment(
        BookingRequest(
            patient_ref=child,
            slot_id=(await free_slot(emis, clock)).slot_id,
            actor_ref=parent.patient_ref,
            reason="Rash",
        )
    )
    assert (appointment.patient_ref, appointment.booked_by_ref) == (child, parent.patient_ref)


async def test_concurrent_bookings_of_one_slot_book_it_once(
    emis: SandboxGPSystem, clock: FakeClock, persona: PersonaLookup
) -> None:
    patients = [persona(tag).patient_ref for tag in ("adult-full", "proxy-parent", "declined")]
    slot = await free_slot(emis, clock)
    outcomes = await asyncio.gather(
        *(emis.book_appointment(book(patients[i % 3], slot)) for i in range(9)),
        return_exceptions=True,
    )
    booked = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(booked) == 1
    assert all(isinstance(o, errors.SlotUnavailable) for o in outcomes if o not in booked)
