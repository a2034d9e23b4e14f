from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Annotated

import phonenumbers
from fastapi.openapi.models import Example
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from app.appointments.service import AppointmentView, NotCancellableReason
from app.gp.types import AppointmentStatus, AppointmentType, CancellationReason, Slot
from app.schemas import RequestBody, ResponseBody

# What a telephone number may hold, so that the GP system can store it as given: groups
# of digits, each set off by at most one space or hyphen, an area code in brackets, and a
# leading + for another country's. At most 20 characters, which GP systems keep (an
# international number has at most 15 digits).
TELEPHONE_PATTERN = r"^\+?(?:\([0-9]+\)|[0-9]+)(?:[ -]?(?:\([0-9]+\)|[0-9]+))*$"
TELEPHONE_MAX_LENGTH = 20


_TELEPHONE = re.compile(TELEPHONE_PATTERN)


def _telephone_number(value: str) -> str:
    """As `TELEPHONE_PATTERN` allows, and of a length its country's numbers have
    (libphonenumber's rules): a UK number as dialled in the UK, or another country's
    after + and its code."""
    number = None
    if len(value) <= TELEPHONE_MAX_LENGTH and _TELEPHONE.fullmatch(value):
        with contextlib.suppress(phonenumbers.NumberParseException):
            number = phonenumbers.parse(value, "GB")
    if number is None or not phonenumbers.is_possible_number(number):
        raise PydanticCustomError(
            "telephone_number",
            "Enter a UK telephone number, such as 07700 900123, or another country's "
            "starting with + and its code, such as +33 1 23 45 67 89.",
        )
    return value


TelephoneNumber = Annotated[
    str,
    AfterValidator(_telephone_number),
    # Checked above, with one message a patient can act on; stated here for the document.
    Field(json_schema_extra={"maxLength": TELEPHONE_MAX_LENGTH, "pattern": TELEPHONE_PATTERN}),
]


class ClinicianOut(ResponseBody):
    name: str = Field(examples=["Dr Priya Shah"])
    role: str = Field(examples=["GP"])


class SlotOut(ResponseBody):
    slot_id: str = Field(description="Pass this back to book the slot.")
    start: datetime
    end: datetime
    type: AppointmentType
    clinician: ClinicianOut
    location: str
    session: str
    slot_type: str | None = Field(
        default=None,
        description="What the slot is for, as the practice names it, where its GP system says.",
        examples=["General GP Appointment"],
    )
    schedule_type: str | None = Field(
        default=None,
        description="The kind of session or clinic the slot is in, where the GP system says.",
        examples=["General GP Appointments"],
    )

    @classmethod
    def of(cls, slot: Slot) -> SlotOut:
        return cls.model_validate(slot)


class SlotList(ResponseBody):
    start: datetime = Field(description="The start of the range searched.")
    end: datetime = Field(description="The end of the range searched.")
    items: list[SlotOut]
    next_from: datetime | None = Field(
        description="More slots follow: pass this as `from` (with the same `to`) for the next "
        "page. Absent on the last page."
    )


class AppointmentOut(ResponseBody):
    appointment_id: str
    start: datetime
    end: datetime
    type: AppointmentType
    clinician: ClinicianOut
    location: str
    status: AppointmentStatus
    reason: str | None = Field(default=None, description="As given when booking.")
    telephone_number: str | None = None
    cancellable: bool
    not_cancellable_reason: NotCancellableReason | None = None
    service_type: str | None = Field(
        default=None,
        description="What the appointment is for, as the practice names it, where its GP "
        "system says.",
        examples=["General GP Appointment"],
    )
    schedule_type: str | None = Field(
        default=None,
        description="The kind of session or clinic it is in, where the GP system says.",
        examples=["General GP Appointments"],
    )
    location_address: str | None = Field(
        default=None,
        description="Where to go, on one line, where the GP system gives the address.",
        examples=["Trevelyan Square, Boar Ln, Leeds, LS1 6AE"],
    )
    clinician_gender: str | None = Field(
        default=None,
        description="The clinician's gender (`male`, `female` or `other`), where the GP "
        "system gives it.",
        examples=["female"],
    )

    @classmethod
    def of(cls, view: AppointmentView) -> AppointmentOut:
        a = view.appointment
        return cls(
            appointment_id=a.appointment_id,
            start=a.start,
            end=a.end,
            type=a.type,
            clinician=ClinicianOut.model_validate(a.clinician),
            location=a.location,
            status=a.status,
            reason=a.reason,
            telephone_number=a.telephone_number,
            cancellable=view.cancellable,
            not_cancellable_reason=view.not_cancellable_reason,
            service_type=a.service_type,
            schedule_type=a.schedule_type,
            location_address=a.location_address,
            clinician_gender=a.clinician_gender,
        )


class AppointmentList(ResponseBody):
    items: list[AppointmentOut]


class BookingIn(RequestBody):
    slot_id: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(
        default=None,
        max_length=1000,
        description="Why you need the appointment, if the practice asks "
        "(see `booking_reason` in `GET /v1/patients/{patient_id}/practice`).",
    )
    telephone_number: TelephoneNumber | None = Field(
        default=None,
        description="The number to call for a telephone appointment: a UK number "
        "(`07700 900123`, `(0161) 496 0000`), or another country's after + and its code "
        "(`+33 1 23 45 67 89`).",
    )


# Request examples for Swagger UI and generated clients' docs (`Body(openapi_examples=…)`).
# Slot ids name the day they are on, and the sandbox offers the next few weeks from
# today, so no fixed example can name a slot that is free: these have the sandbox's form
# (practice, `S`, local start, clinician), and booking one answers `409 slot_not_found`,
# which says to list the slots again. Sorted by name, the first (which Swagger UI shows)
# is for the README's walk-through persona, at Riverside Medical Centre (A81001), which
# asks for a reason.
BOOKING_EXAMPLES: dict[str, Example] = {
    "reason": {
        "summary": "With a reason (where `booking_reason` is optional or mandatory)",
        "description": "Put a `slot_id` from `GET …/slots` in place of this one.",
        "value": {
            "slot_id": "A81001-S202701110900-0",
            "reason": "Follow-up on my blood pressure readings",
        },
    },
    "telephone": {
        "summary": "A telephone appointment, with the number to call",
        "description": "Put a `slot_id` from `GET …/slots` in place of this one.",
        "value": {
            "slot_id": "C83003-S202701121400-2",
            "reason": "Repeat asthma review",
            "telephone_number": "07700 900123",
        },
    },
    "without_reason": {
        "summary": "Without a reason (where `booking_reason` is `not_requested`)",
        "description": "Put a `slot_id` from `GET …/slots` in place of this one.",
        "value": {"slot_id": "B82002-S202701131030-1"},
    },
}


class CancelIn(RequestBody):
    reason_code: str | None = Field(
        default=None,
        max_length=64,
        description="One of the practice's cancellation reasons, where it has them.",
    )


class CancellationReasonOut(ResponseBody):
    code: str
    text: str

    @classmethod
    def of(cls, reason: CancellationReason) -> CancellationReasonOut:
        return cls(code=reason.code, text=reason.text)


class CancellationReasonList(ResponseBody):
    required: bool = Field(description="Whether a reason must be given when cancelling.")
    items: list[CancellationReasonOut]


CANCEL_EXAMPLES: dict[str, Example] = {
    "with_reason": {
        "summary": "With a reason (where `cancellation-reasons` says `required`)",
        "value": {"reason_code": "2"},
    },
    "no_reason": {"summary": "Without (practices that have no reasons)", "value": {}},
}
