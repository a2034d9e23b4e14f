"""The same scenarios through the `GPSystem` port, for every adapter kind."""

from __future__ import annotations

import pytest

from app.gp.errors import (
    CourseNotOrderable,
    GPSystemUnavailable,
    NotAvailableAtPractice,
    NotFoundInGPSystem,
    SlotUnavailable,
)
from app.gp.types import (
    AppointmentStatus,
    BookingRequest,
    Capability,
    CourseKind,
    NotOrderableReason,
    PrescriptionRequestStatus,
    Slot,
)
from tests.gp.contract.conftest import Contract


async def free_slots(contract: Contract) -> list[Slot]:
    return await contract.adapter.search_slots(
        contract.window_start, contract.window_end, patient_ref=contract.patient_ref
    )


def booking(contract: Contract, slot: Slot) -> BookingRequest:
    return BookingRequest(
        patient_ref=contract.patient_ref,
        slot_id=slot.slot_id,
        actor_ref=contract.actor_ref,
        reason="Follow-up about my knee",
    )


async def test_search_returns_free_future_slots_sorted(contract: Contract) -> None:
    slots = await free_slots(contract)

    assert slots, "the scenario needs bookable slots in its window"
    assert all(slot.start > contract.now() for slot in slots)
    assert all(contract.window_start <= slot.start < contract.window_end for slot in slots)
    assert [slot.start for slot in slots] == sorted(slot.start for slot in slots)
    assert all(slot.clinician.name and slot.location for slot in slots)


async def test_booked_slot_is_listed_as_booked(contract: Contract) -> None:
    slot = (await free_slots(contract))[0]

    booked = await contract.adapter.book_appointment(booking(contract, slot))

    assert booked.status is AppointmentStatus.BOOKED
    assert (booked.start, booked.end) == (slot.start, slot.end)
    listed = await contract.adapter.list_appointments(contract.patient_ref)
    match = [a for a in listed if a.appointment_id == booked.appointment_id]
    assert [a.status for a in match] == [AppointmentStatus.BOOKED]
    # Each names its slot, so that a booking whose answer was lost can be found again.
    assert booked.slot_id == slot.slot_id
    assert [a.slot_id for a in match] == [slot.slot_id]
    assert slot.slot_id not in {s.slot_id for s in await free_slots(contract)}


async def test_booking_the_same_slot_twice_is_refused(contract: Contract) -> None:
    slot = (await free_slots(contract))[0]
    await contract.adapter.book_appointment(booking(contract, slot))

    with pytest.raises(SlotUnavailable):
        await contract.adapter.book_appointment(booking(contract, slot))


async def test_cancel_frees_the_slot(contract: Contract) -> None:
    slot = (await free_slots(contract))[0]
    booked = await contract.adapter.book_appointment(booking(contract, slot))

    cancelled = await contract.adapter.cancel_appointment(
        contract.patient_ref, booked.appointment_id, reason_code=None, actor_ref=contract.actor_ref
    )

    assert cancelled.status is AppointmentStatus.CANCELLED
    listed = await contract.adapter.list_appointments(contract.patient_ref)
    assert {a.status for a in listed if a.appointment_id == booked.appointment_id} == {
        AppointmentStatus.CANCELLED
    }
    assert slot.start in {s.start for s in await free_slots(contract)}


async def test_cancel_unknown_appointment_is_not_found(contract: Contract) -> None:
    with pytest.raises(NotFoundInGPSystem):
        await contract.adapter.cancel_appointment(
            contract.patient_ref,
            contract.unknown_appointment_id,
            reason_code=None,
            actor_ref=contract.actor_ref,
        )


async def test_courses_include_a_repeat_and_an_acute(contract: Contract) -> None:
    courses = {c.course_id: c for c in await contract.adapter.list_courses(contract.patient_ref)}

    assert courses[contract.repeat_course_id].kind is CourseKind.REPEAT
    assert courses[contract.acute_course_id].kind is CourseKind.ACUTE


async def test_repeat_course_can_be_ordered(contract: Contract) -> None:
    request = await contract.adapter.request_prescription(
        contract.patient_ref, [contract.repeat_course_id], note=None, actor_ref=contract.actor_ref
    )

    assert request.course_ids == (contract.repeat_course_id,)
    listed = await contract.adapter.list_prescription_requests(contract.patient_ref)
    assert request.request_id in {r.request_id for r in listed}


async def test_an_ordered_request_is_listed_as_the_patients_own_and_pending(
    contract: Contract,
) -> None:
    request = await contract.adapter.request_prescription(
        contract.patient_ref, [contract.repeat_course_id], note=None, actor_ref=contract.actor_ref
    )

    listed = {
        r.request_id: r
        for r in await contract.adapter.list_prescription_requests(contract.patient_ref)
    }
    mine = listed[request.request_id]
    assert mine.requested_by_ref == contract.actor_ref
    assert mine.status is PrescriptionRequestStatus.REQUESTED
    with pytest.raises(CourseNotOrderable) as again:
        await contract.adapter.request_prescription(
            contract.patient_ref,
            [contract.repeat_course_id],
            note=None,
            actor_ref=contract.actor_ref,
        )
    assert again.value.reason is NotOrderableReason.PENDING_REQUEST


async def test_cancelling_a_request_where_the_system_declares_it(contract: Contract) -> None:
    """Systems that declare the capability cancel a pending request; the others refuse
    plainly with the capability named, and the request stands."""
    request = await contract.adapter.request_prescription(
        contract.patient_ref, [contract.repeat_course_id], note=None, actor_ref=contract.actor_ref
    )
    declared = Capability.CANCEL_PRESCRIPTION_REQUEST in contract.adapter.capabilities

    if declared:
        cancelled = await contract.adapter.cancel_prescription_request(
            contract.patient_ref, request.request_id, actor_ref=contract.actor_ref
        )
        assert cancelled.status is PrescriptionRequestStatus.CANCELLED
    else:
        with pytest.raises(NotAvailableAtPractice) as refused:
            await contract.adapter.cancel_prescription_request(
                contract.patient_ref, request.request_id, actor_ref=contract.actor_ref
            )
        assert refused.value.capability is Capability.CANCEL_PRESCRIPTION_REQUEST

    listed = {
        r.request_id: r.status
        for r in await contract.adapter.list_prescription_requests(contract.patient_ref)
    }
    expected = (
        PrescriptionRequestStatus.CANCELLED if declared else PrescriptionRequestStatus.REQUESTED
    )
    assert listed[request.request_id] is expected


async def test_acute_course_is_not_orderable(contract: Contract) -> None:
    with pytest.raises(CourseNotOrderable) as refused:
        await contract.adapter.request_prescription(
            contract.patient_ref,
            [contract.acute_course_id],
            note=None,
            actor_ref=contract.actor_ref,
        )

    assert refused.value.reason is NotOrderableReason.NOT_A_REPEAT


async def test_system_down_is_unavailable(contract: Contract) -> None:
    contract.take_down()

    with pytest.raises(GPSystemUnavailable):
        await free_slots(contract)
    with pytest.raises(GPSystemUnavailable):
        await contract.adapter.list_appointments(contract.patient_ref)
