"""The patient-facing Appointment Management specification's own examples, through the
adapter's mapping: every response example (what a patient would be shown from it) and
every error example (the domain error each status of the specification's tables means),
and the platform's own answers, which are ours to fix and never a patient's refusal.

The examples are in `payloads/appointments/` (see its README for where each came from).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.adapters.gpconnect import fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.appointments import cancellation_body
from app.adapters.gpconnect.client import CONFIGURATION_FAULT, answer, deliver
from app.adapters.gpconnect.outcomes import Operation, error_for_response
from app.gp.errors import (
    GPConfigurationFault,
    GPError,
    GPForbidden,
    GPSystemUnavailable,
    NotCancellable,
    NotFoundInGPSystem,
    PatientNotFound,
    SlotUnavailable,
    TooLateToCancel,
)
from app.gp.types import AppointmentStatus, AppointmentType
from app.problems import problem_parts

EXAMPLES = Path(__file__).parent / "payloads" / "appointments"
ODS = "A20047"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def included(bundle_name: str, kind: str) -> dict[str, Any]:
    return dict(next(fhir.bundle_resources(example(bundle_name), kind)))


def read_as(resource: dict[str, Any], ident: str) -> dict[str, Any]:
    """The specification's Practitioner or Location example, as Read practitioner / Read
    location would answer for the id an appointment refers to (the examples' ids differ)."""
    return {**copy.deepcopy(resource), "id": ident}


# --- response examples -----------------------------------------------------------------


def test_slot_search_example_shows_slot_and_schedule_types() -> None:
    slots = fhir.slots_from_bundle(example("slots_bundle.json"))

    assert [(s.start, s.end) for s in slots] == [
        (utc(2016, 8, 15, 10, 30), utc(2016, 8, 15, 10, 40)),  # 11:30 BST
        (utc(2016, 8, 15, 10, 40), utc(2016, 8, 15, 10, 50)),
    ]
    assert [s.slot_type for s in slots] == ["General GP Appointment", "NHS Health Check"]
    assert {s.schedule_type for s in slots} == {"General GP Appointments"}
    for slot in slots:
        assert slot.type is AppointmentType.IN_PERSON
        assert slot.clinician.name == "Mrs Sarah Black"
        assert slot.clinician.role == "General Medical Practitioner"
        assert slot.location == "The Trevelyan Practice"
        assert slot.session == "General GP Appointments"
    key = fhir.SlotKey.decode(slots[0].slot_id)
    assert (key.slot_id, key.location_id, key.practitioner_id) == ("1584", "17", "2")


def test_booking_confirmation_example_with_its_location_read() -> None:
    booked = example("appointment_booked.json")
    location = read_as(included("slots_bundle.json", "Location"), "32")

    appointment = fhir.appointment_from_fhir(booked, fhir.ResourceIndex([location]))

    assert appointment.appointment_id == "9"
    assert appointment.patient_ref == "9000000009"
    assert (appointment.start, appointment.end) == (
        utc(2017, 5, 30, 9, 0),
        utc(2017, 5, 30, 9, 25),
    )
    assert appointment.status is AppointmentStatus.BOOKED
    assert appointment.type is AppointmentType.IN_PERSON
    assert appointment.service_type == "General GP Appointment"
    assert appointment.schedule_type == "General GP Appointments"
    assert appointment.location == "The Trevelyan Practice"
    assert appointment.location_address == "Trevelyan Square, Boar Ln, Leeds, LS1 6AE"
    # No Practitioner participant in this example: the role is all there is to show.
    assert appointment.clinician.name == "General Medical Practitioner"
    assert appointment.clinician.role == "General Medical Practitioner"
    assert appointment.clinician_gender is None
    assert appointment.reason == "Free text description."
    assert appointment.version == "636068818095315079"
    assert (
        appointment.slot_id
        == fhir.SlotKey("1", appointment.start, appointment.end, "32", None).encode()
    )


def test_booking_confirmation_example_as_returned_has_no_address_to_show() -> None:
    """Without Read location (the participant has no display), nothing is made up."""
    appointment = fhir.appointment_from_fhir(example("appointment_booked.json"))

    assert appointment.location == ""
    assert appointment.location_address is None
    assert appointment.service_type == "General GP Appointment"
    assert [
        a["reference"] for a in fhir.unresolved_participants(example("appointment_booked.json"))
    ] == ["Location/32"]


def test_patient_appointments_example() -> None:
    bundle = example("patient_appointments_bundle.json")
    index = fhir.ResourceIndex.of_bundle(bundle)

    nurse, gp = (
        fhir.appointment_from_fhir(resource, index)
        for resource in fhir.bundle_resources(bundle, "Appointment")
    )

    assert nurse.appointment_id == "149"
    assert (nurse.start, nurse.end) == (utc(2017, 8, 21, 9, 30), utc(2017, 8, 21, 9, 50))
    assert nurse.clinician.name == "Mrs Sarah Black"
    assert nurse.clinician.role == "Specialist Nurse Practitioner"
    assert nurse.clinician_gender == "female"
    assert nurse.service_type == "Nurse Appointment"
    assert nurse.schedule_type == "Nurse Appointments"
    assert nurse.status is AppointmentStatus.BOOKED
    assert nurse.slot_id is None  # booked across two slots: no one slot to name
    # Its Location participant is Location/1; the bundle includes Location/17 only.
    assert (nurse.location, nurse.location_address) == ("", None)

    assert gp.appointment_id == "150"
    assert (gp.start, gp.end) == (utc(2017, 8, 17, 10, 20), utc(2017, 8, 17, 10, 30))
    assert gp.clinician.name == "General Medical Practitioner"
    assert gp.clinician_gender is None
    assert gp.service_type == "General GP Appointment"
    assert gp.schedule_type == "General GP Appointments"
    assert gp.type is AppointmentType.IN_PERSON
    assert fhir.SlotKey.decode(gp.slot_id or "").slot_id == "303"


def test_get_appointment_example_with_its_location_read() -> None:
    resource = example("appointment_read.json")
    location = read_as(included("slots_bundle.json", "Location"), "1")

    appointment = fhir.appointment_from_fhir(resource, fhir.ResourceIndex([location]))

    assert appointment.appointment_id == "150"
    assert (appointment.start, appointment.end) == (
        utc(2017, 8, 17, 10, 20),
        utc(2017, 8, 17, 10, 30),
    )
    assert appointment.status is AppointmentStatus.BOOKED
    assert appointment.clinician.role == "General Medical Practitioner"
    assert appointment.service_type == "General GP Appointment"
    assert appointment.schedule_type == "General GP Appointments"
    assert appointment.location == "The Trevelyan Practice"
    assert appointment.location_address == "Trevelyan Square, Boar Ln, Leeds, LS1 6AE"
    assert appointment.version == "1503440820000"


def test_practitioner_gender_comes_from_the_practitioner_read() -> None:
    resource = example("appointment_read.json")
    resource["participant"].append({"actor": {"reference": "Practitioner/2"}, "status": "accepted"})
    practitioner = included("slots_bundle.json", "Practitioner")

    appointment = fhir.appointment_from_fhir(resource, fhir.ResourceIndex([practitioner]))

    assert appointment.clinician.name == "Mrs Sarah Black"
    assert appointment.clinician_gender == "female"


def test_cancelled_appointment_example() -> None:
    appointment = fhir.appointment_from_fhir(example("appointment_cancelled.json"))

    assert appointment.appointment_id == "9"
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == "Free text cancellation reason."
    assert (appointment.start, appointment.end) == (
        utc(2017, 5, 30, 9, 0),
        utc(2017, 5, 30, 9, 25),
    )
    assert appointment.service_type == "General GP Appointment"
    assert appointment.clinician.role == "General Medical Practitioner"


def test_our_cancel_body_has_what_the_specification_example_sends() -> None:
    ours = cancellation_body(example("appointment_read.json"), "Free text cancellation reason.")
    theirs = example("cancel_request.json")

    assert ours["status"] == theirs["status"] == "cancelled"
    assert set(theirs) - {"description"} <= set(ours)  # the example also edits the text
    reason = next(e for e in ours["extension"] if e["url"] == wire.CANCELLATION_REASON_EXT)
    assert reason == theirs["extension"][0]


# --- error examples ----------------------------------------------------------------------


def outcome_with(code: str, display: str, *, name: str = "slots_error_access_denied.json") -> Any:
    """The specification's OperationOutcome example, carrying another row of its tables."""
    body = example(name)
    body["issue"][0]["details"]["coding"][0].update(code=code, display=display)
    return body


def row(name: str, status: int, body: Any, operation: Operation, expected: type[GPError]) -> Any:
    return pytest.param(status, body, operation, expected, id=name)


DENIED = "ACCESS_DENIED"
SPEC_ERRORS = [
    # The examples as given…
    row("slots", 403, example("slots_error_access_denied.json"), Operation.READ, GPForbidden),
    row(
        "book", 404, example("book_error_no_record_found.json"), Operation.BOOK, NotFoundInGPSystem
    ),
    row(
        "appointments",
        404,
        example("patient_appointments_error_no_record_found.json"),
        Operation.READ,
        NotFoundInGPSystem,
    ),
    row(
        "read",
        404,
        example("read_error_no_record_found.json"),
        Operation.CANCEL,
        NotFoundInGPSystem,
    ),
    row(
        "cancel",
        404,
        example("cancel_error_no_record_found.json"),
        Operation.CANCEL,
        NotFoundInGPSystem,
    ),
    # …and the other rows of the tables, in the examples' shape.
    row(
        "cancel disabled",
        403,
        outcome_with(DENIED, "Practice has disabled cancellation"),
        Operation.CANCEL,
        GPForbidden,
    ),
    row(
        "cannot cancel",
        409,
        outcome_with(DENIED, "Cannot cancel appointment"),
        Operation.CANCEL,
        NotCancellable,
    ),
    row(
        "too late",
        461,
        outcome_with(DENIED, "Too late to cancel appointment"),
        Operation.CANCEL,
        TooLateToCancel,
    ),
    row(
        "duplicate",
        409,
        outcome_with("DUPLICATE_REJECTED", "Duplicate"),
        Operation.BOOK,
        SlotUnavailable,
    ),
    row(
        "slot gone",
        404,
        outcome_with("REFERENCE_NOT_FOUND", "Not found"),
        Operation.BOOK,
        SlotUnavailable,
    ),
    row(
        "no consent",
        400,
        outcome_with("NO_ORGANISATION_CONSENT", "No consent"),
        Operation.READ,
        GPForbidden,
    ),
    row(
        "NHS number",
        400,
        outcome_with("INVALID_NHS_NUMBER", "Invalid"),
        Operation.BOOK,
        PatientNotFound,
    ),
    row(
        "patient",
        404,
        outcome_with("PATIENT_NOT_FOUND", "Not found"),
        Operation.BOOK,
        PatientNotFound,
    ),
    row(
        "practitioner",
        404,
        outcome_with("PRACTITIONER_NOT_FOUND", "Not found"),
        Operation.BOOK,
        NotFoundInGPSystem,
    ),
    row(
        "bad request",
        400,
        outcome_with("BAD_REQUEST", "Malformed"),
        Operation.BOOK,
        GPConfigurationFault,
    ),
    row(
        "validation",
        400,
        outcome_with("VALIDATION_ERROR", "Default"),
        Operation.READ,
        GPConfigurationFault,
    ),
    row(
        "unsupported",
        400,
        outcome_with("UNSUPPORTED_VALUE", "Unsupported"),
        Operation.CANCEL,
        GPConfigurationFault,
    ),
    row(
        "identifier",
        400,
        outcome_with("INVALID_IDENTIFIER_VALUE", "Invalid"),
        Operation.READ,
        GPConfigurationFault,
    ),
    row(
        "invalid resource",
        422,
        outcome_with("INVALID_RESOURCE", "Invalid"),
        Operation.BOOK,
        GPForbidden,
    ),
    row(
        "invalid parameter",
        422,
        outcome_with("INVALID_PARAMETER", "Invalid"),
        Operation.READ,
        GPForbidden,
    ),
]


@pytest.mark.parametrize(("status", "body", "operation", "expected"), SPEC_ERRORS)
def test_specification_error_rows(
    status: int, body: Any, operation: Operation, expected: type[GPError]
) -> None:
    error = error_for_response(status, body, operation)

    assert type(error) is expected
    assert error.supplier_code == body["issue"][0]["details"]["coding"][0]["code"]


def test_the_reference_providers_gone_slot_is_slot_unavailable() -> None:
    """422 INVALID_RESOURCE "Slot resource reference value … is not a valid resource."."""
    body = outcome_with("INVALID_RESOURCE", "Submitted resource is invalid")
    body["issue"][0]["diagnostics"] = "Slot resource reference value 1584 is not a valid resource."

    error = error_for_response(422, body, Operation.BOOK)

    assert type(error) is SlotUnavailable
    assert error.code == "slot_unavailable"
    assert "1584" not in error.detail


def test_a_bad_request_that_names_a_patients_rule_keeps_its_meaning() -> None:
    body = outcome_with("BAD_REQUEST", "Submitted request is malformed/invalid")
    body["issue"][0]["diagnostics"] = "Too late to cancel this appointment online"

    assert type(error_for_response(400, body, Operation.CANCEL)) is TooLateToCancel


# --- the platform's own answers: ours to fix ---------------------------------------------


def response(status: int, content: bytes, content_type: str) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"Content-Type": content_type})


PLATFORM_ANSWERS = [
    # RaiseFault.404TargetNotFound: the practice is not routed (empty text/plain).
    pytest.param(response(404, b"", "text/plain"), Operation.READ, id="not connected"),
    pytest.param(response(404, b"", "text/plain"), Operation.BOOK, id="not connected, booking"),
    # RaiseFault.400BadRequest (sandbox proxy), text/plain.
    pytest.param(response(400, b"", "text/plain"), Operation.BOOK, id="proxy 400"),
    # AssignMessage.Errors.CatchAllMessage: an OperationOutcome whose code is the status.
    pytest.param(
        response(415, (EXAMPLES / "proxy_catch_all_415.json").read_bytes(), "application/json"),
        Operation.BOOK,
        id="proxy catch-all 415",
    ),
    pytest.param(
        response(403, b"<html><body>403 Forbidden</body></html>", "text/html"),
        Operation.CANCEL,
        id="gateway 403",
    ),
    pytest.param(
        response(405, b"Method Not Allowed", "text/plain"), Operation.READ, id="proxy 405"
    ),
]


@pytest.mark.parametrize(("answered", "operation"), PLATFORM_ANSWERS)
def test_the_platforms_own_answers_are_a_configuration_fault(
    answered: httpx.Response, operation: Operation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.adapters.gpconnect.client")

    with pytest.raises(GPConfigurationFault) as raised:
        answer(answered, operation, ods_code=ODS, label="GET Slot")

    error = raised.value
    assert isinstance(error, GPSystemUnavailable)  # the outage it is for the patient
    assert error.supplier_code == f"HTTP {answered.status_code}"
    parts = problem_parts(error)
    assert (parts.status, parts.code) == (503, "gp_system_unavailable")
    [record] = caplog.records
    assert record.getMessage().startswith(f"{CONFIGURATION_FAULT}: ")
    assert record.levelno == logging.ERROR
    assert record.__dict__["status"] == answered.status_code
    assert record.__dict__["ods_code"] == ODS


def test_a_bad_request_is_logged_with_its_code_and_without_diagnostics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = outcome_with("VALIDATION_ERROR", "Validation error")
    body["issue"][0]["diagnostics"] = "Patient 9000000009 Jane Smith: bad start parameter"
    caplog.set_level(logging.INFO, logger="app.adapters.gpconnect.client")

    with pytest.raises(GPConfigurationFault):
        answer(response(400, json.dumps(body).encode(), wire.FHIR_JSON), Operation.READ,
               ods_code=ODS, label="GET Slot")  # fmt: skip

    [record] = caplog.records
    assert record.getMessage().startswith(f"{CONFIGURATION_FAULT}: ")
    assert (record.__dict__["status"], record.__dict__["spine_code"]) == (400, "VALIDATION_ERROR")
    logged = json.dumps({k: str(v) for k, v in record.__dict__.items()})
    assert "9000000009" not in logged
    assert "Smith" not in logged


def test_a_refusal_is_not_logged_as_a_configuration_fault(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps(outcome_with("ACCESS_DENIED", "Too late to cancel appointment")).encode()
    caplog.set_level(logging.INFO, logger="app.adapters.gpconnect.client")

    with pytest.raises(TooLateToCancel):
        answer(response(461, body, wire.FHIR_JSON), Operation.CANCEL, ods_code=ODS, label="PUT")

    assert [r.getMessage() for r in caplog.records] == ["GP Connect refused a call"]


# --- charset -------------------------------------------------------------------------------


async def test_fhir_bodies_are_sent_as_utf_8() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json=example("appointment_booked.json"))

    body = json.dumps(example("appointment_booked.json")).encode()
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
        for content, headers in (
            (body, {"Accept": wire.FHIR_JSON, "Content-Type": wire.FHIR_JSON}),
            (None, {"Accept": wire.FHIR_JSON}),
        ):
            await deliver(
                http,
                "POST" if content else "GET",
                "https://gp.example/FHIR/STU3/Appointment",
                params=None,
                content=content,
                headers=headers,
                timeouts=httpx.Timeout(5),
                ods_code=ODS,
                label="POST Appointment",
            )

    posted, read = sent
    header = Message()
    header["Content-Type"] = posted.headers["Content-Type"]
    assert header.get_content_type() == wire.FHIR_JSON
    assert header.get_param("charset") == "utf-8"
    assert posted.headers["Accept"] == wire.FHIR_JSON
    assert json.loads(posted.content.decode("utf-8")) == example("appointment_booked.json")
    assert "Content-Type" not in read.headers


@pytest.mark.parametrize(
    "content_type",
    [
        "application/fhir+json; charset=utf-8",
        "application/fhir+json;charset=UTF-8",
        "application/fhir+json",
    ],
)
def test_responses_with_a_charset_are_read(content_type: str) -> None:
    resource = example("appointment_read.json")
    resource["description"] = "Zoë's review at Ysbyty Gwynedd, Café"
    answered = response(200, json.dumps(resource, ensure_ascii=False).encode(), content_type)

    payload = answer(answered, Operation.READ, ods_code=ODS, label="GET Appointment")

    assert fhir.appointment_from_fhir(payload).reason == "Zoë's review at Ysbyty Gwynedd, Café"
