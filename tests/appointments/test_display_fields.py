"""What an adapter says of a slot's and an appointment's kind, place and clinician beyond
the essentials reaches the API as given, and is null where the GP system does not say."""

from __future__ import annotations

from datetime import UTC, datetime

from app.appointments.schemas import AppointmentOut, SlotOut
from app.appointments.service import AppointmentView
from app.gp.types import Appointment, AppointmentStatus, AppointmentType, Clinician, Slot

START = datetime(2030, 6, 3, 10, 30, tzinfo=UTC)
END = datetime(2030, 6, 3, 10, 40, tzinfo=UTC)
CLINICIAN = Clinician(name="Mrs Sarah Black", role="General Medical Practitioner")


def slot(**extra: str) -> Slot:
    return Slot(
        slot_id="1584~1~2~17~2",
        start=START,
        end=END,
        type=AppointmentType.IN_PERSON,
        clinician=CLINICIAN,
        location="The Trevelyan Practice",
        session="General GP Appointments",
        **extra,
    )


def appointment(**extra: str) -> AppointmentView:
    booked = Appointment(
        appointment_id="9",
        patient_ref="9000000009",
        start=START,
        end=END,
        type=AppointmentType.IN_PERSON,
        clinician=CLINICIAN,
        location="The Trevelyan Practice",
        status=AppointmentStatus.BOOKED,
        **extra,
    )
    return AppointmentView(booked, cancellable=True, not_cancellable_reason=None)


def test_a_slot_shows_its_slot_and_schedule_types() -> None:
    out = SlotOut.of(
        slot(slot_type="General GP Appointment", schedule_type="General GP Appointments")
    ).model_dump(mode="json")

    assert out["slot_type"] == "General GP Appointment"
    assert out["schedule_type"] == "General GP Appointments"


def test_a_booking_confirmation_shows_service_type_address_and_gender() -> None:
    out = AppointmentOut.of(
        appointment(
            service_type="General GP Appointment",
            schedule_type="General GP Appointments",
            location_address="Trevelyan Square, Boar Ln, Leeds, LS1 6AE",
            clinician_gender="female",
        )
    ).model_dump(mode="json")

    assert out["service_type"] == "General GP Appointment"
    assert out["schedule_type"] == "General GP Appointments"
    assert out["location_address"] == "Trevelyan Square, Boar Ln, Leeds, LS1 6AE"
    assert out["clinician_gender"] == "female"


def test_what_the_gp_system_does_not_say_is_null() -> None:
    slot_out = SlotOut.of(slot()).model_dump(mode="json")
    appointment_out = AppointmentOut.of(appointment()).model_dump(mode="json")

    assert (slot_out["slot_type"], slot_out["schedule_type"]) == (None, None)
    assert {
        name: appointment_out[name]
        for name in ("service_type", "schedule_type", "location_address", "clinician_gender")
    } == dict.fromkeys(("service_type", "schedule_type", "location_address", "clinician_gender"))
