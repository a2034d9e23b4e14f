"""Wire ↔ domain mapping, without HTTP, against payloads shaped as the specifications show."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.adapters.gpconnect import fhir, fhir_prescriptions, fhir_record
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir_documents import binary_id
from app.gp.types import (
    AppointmentStatus,
    AppointmentType,
    BookingRequest,
    CourseKind,
    PrescriptionRequestStatus,
    RecordSection,
)
from tests.adapters.gpconnect.fake_server import NHS_NUMBER, load


def test_slot_bundle_maps_to_slots_with_clinician_location_and_channel() -> None:
    slots = fhir.slots_from_bundle(load("slot_search_bundle.json"))

    assert [s.start for s in slots] == sorted(s.start for s in slots)
    nurse, gp_in_person, gp_video = slots
    assert nurse.start == datetime(2030, 6, 3, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert nurse.type is AppointmentType.TELEPHONE
    assert nurse.clinician.name == "Amara Okafor"
    assert nurse.clinician.role == "Practice Nurse"
    assert nurse.session == "Nurse clinic"
    assert (nurse.slot_type, nurse.schedule_type) == ("Nurse telephone review", "Nurse clinic")
    assert gp_in_person.clinician.name == "Dr Nichole Gilbert"
    assert gp_in_person.clinician.role == "General Medical Practitioner"
    assert gp_in_person.location == "Riverside Medical Centre"
    assert gp_in_person.type is AppointmentType.IN_PERSON
    assert gp_video.type is AppointmentType.VIDEO


def test_slot_id_carries_what_booking_needs() -> None:
    slot = fhir.slots_from_bundle(load("slot_search_bundle.json"))[1]

    key = fhir.SlotKey.decode(slot.slot_id)

    assert (key.slot_id, key.location_id, key.practitioner_id) == ("1584", "17", "2")
    assert (key.start, key.end) == (slot.start, slot.end)


@pytest.mark.parametrize("bad", ["", "1584", "1584~x~y~17~2", "~1~2~17~", "a~1~2~~"])
def test_malformed_slot_ids_are_rejected(bad: str) -> None:
    with pytest.raises(fhir.MalformedResource):
        fhir.SlotKey.decode(bad)


def test_busy_slots_and_slots_without_location_are_left_out() -> None:
    payload = load("slot_search_bundle.json")
    payload["entry"][0]["resource"]["status"] = "busy"
    payload["entry"][3]["resource"]["actor"] = [{"reference": "Practitioner/2"}]

    slots = fhir.slots_from_bundle(payload)

    assert [fhir.SlotKey.decode(s.slot_id).slot_id for s in slots] == ["1586"]


def test_booking_body_has_the_spec_shape() -> None:
    key = fhir.SlotKey(
        "1584",
        datetime(2030, 6, 3, 10, 30, tzinfo=UTC),
        datetime(2030, 6, 3, 10, 45, tzinfo=UTC),
        "17",
        "2",
    )
    request = BookingRequest(
        patient_ref="2",
        slot_id=key.encode(),
        actor_ref="2",
        reason="Sore knee",
        telephone_number="07700 900123",
    )
    organisation = fhir.BookingOrganisation("X26", "GP Online", "0300 303 5678")

    body = fhir.appointment_to_fhir(
        request, key, organisation, datetime(2030, 5, 20, 18, 16, tzinfo=UTC)
    )

    assert body["resourceType"] == "Appointment"
    assert body["meta"]["profile"] == [wire.APPOINTMENT_PROFILE]
    assert body["status"] == "booked"
    assert body["start"] == "2030-06-03T11:30:00+01:00"  # UK local time with offset
    assert body["end"] == "2030-06-03T11:45:00+01:00"
    assert body["created"] == "2030-05-20T19:16:00+01:00"
    assert body["slot"] == [{"reference": "Slot/1584"}]
    assert body["description"] == "Sore knee | Tel: 07700 900123"
    assert "reason" not in body  # "Consumers SHALL NOT use the appointment reason element"
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors == ["Patient/2", "Location/17", "Practitioner/2"]
    assert {p["status"] for p in body["participant"]} == {"accepted"}
    (organisation_resource,) = body["contained"]
    assert organisation_resource["identifier"][0]["value"] == "X26"
    assert organisation_resource["name"] and organisation_resource["telecom"]
    assert body["extension"] == [
        {"url": wire.BOOKING_ORGANISATION_EXT, "valueReference": {"reference": "#1"}}
    ]


def test_description_stays_within_the_spec_limit() -> None:
    key = fhir.SlotKey(
        "1", datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), "1", None
    )
    request = BookingRequest(patient_ref="2", slot_id="x", actor_ref="2", reason="x" * 200)
    body = fhir.appointment_to_fhir(
        request, key, fhir.BookingOrganisation("X26", "n", "t"), datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert len(body["description"]) == fhir.DESCRIPTION_MAX
    assert [p["actor"]["reference"] for p in body["participant"]] == ["Patient/2", "Location/1"]


def test_booked_appointment_maps_back() -> None:
    appointment = fhir.appointment_from_fhir(load("appointment_booked.json"))

    assert appointment.appointment_id == "9"
    assert appointment.patient_ref == "2"
    assert appointment.status is AppointmentStatus.BOOKED
    assert appointment.clinician.name == "Dr Nichole Gilbert"
    assert appointment.clinician.role == "General Medical Practitioner"
    assert appointment.location == "Riverside Medical Centre"
    assert appointment.version == "636068818095315079"
    assert appointment.reason == "Sore knee"
    assert appointment.service_type == "Routine GP appointment"
    assert appointment.schedule_type == "Morning surgery"


def test_address_is_one_line_with_each_part_once() -> None:
    address = {
        "line": ["Trevelyan Square", "Boar Ln", "Leeds"],
        "city": "Leeds",
        "district": "West Yorkshire",
        "postalCode": "LS1 6AE",
    }

    assert fhir.address_text(address) == "Trevelyan Square, Boar Ln, Leeds, West Yorkshire, LS1 6AE"
    assert fhir.address_text([{"text": "1 River Street, Leeds"}]) == "1 River Street, Leeds"
    assert fhir.address_text(None) is None
    assert fhir.address_text({}) is None


def test_courses_map_repeat_acute_and_repeat_dispensing() -> None:
    courses = {
        c.course_id: c
        for c in fhir_prescriptions.courses_from_bundle(
            load("medication_requests_bundle.json"), nhs_number="9000000009"
        )
    }

    assert set(courses) == {"mr-plan-1", "mr-plan-2", "mr-plan-3"}  # stopped and issues left out
    repeat = courses["mr-plan-1"]
    assert repeat.kind is CourseKind.REPEAT
    assert repeat.name == "Amlodipine 5mg tablets"
    assert repeat.dosage == "One tablet once a day"
    assert repeat.quantity == "28 tablet"
    assert repeat.last_issued_on == date(2026, 10, 1)
    assert repeat.review_due_on == date(2031, 3, 31)
    assert courses["mr-plan-2"].kind is CourseKind.ACUTE
    assert courses["mr-plan-3"].kind is CourseKind.REPEAT_DISPENSING


def test_unknown_course_of_therapy_is_never_orderable() -> None:
    assert (
        fhir_prescriptions.course_kind({"courseOfTherapyType": {"coding": [{"code": "seasonal"}]}})
        is CourseKind.ACUTE
    )
    assert fhir_prescriptions.course_kind({}) is CourseKind.ACUTE


def test_tasks_group_into_the_patients_own_requests() -> None:
    tasks = list(fhir.bundle_resources(load("tasks_bundle.json"), "Task"))

    newest, rejected = fhir_prescriptions.requests_from_tasks(
        tasks, patient_ref="2", nhs_number="9000000009"
    )

    # One order of two courses, tied by groupIdentifier; another patient's Task is dropped.
    assert newest.request_id == "5b1c3f36-36a9-4c56-9d5f-2d8f3d3a1a01"
    assert newest.course_ids == ("mr-plan-1", "mr-plan-3")
    assert newest.status is PrescriptionRequestStatus.REQUESTED
    assert newest.note == "Going on holiday next week"
    # `requester` is the patient by NHS number: the request is theirs.
    assert newest.requested_by_ref == "2"
    assert rejected.status is PrescriptionRequestStatus.REJECTED
    assert rejected.rejection_reason == "Please book a medication review first"
    assert rejected.requested_by_ref == "ed313d93-f470-420f-ae4e-2b7eb91d3f45"
    assert fhir_prescriptions.pending_courses(tasks) >= {"mr-plan-1", "mr-plan-3"}


def test_another_patients_tasks_and_courses_are_never_read() -> None:
    tasks = list(fhir.bundle_resources(load("tasks_bundle.json"), "Task"))

    theirs = fhir_prescriptions.requests_from_tasks(tasks, patient_ref="7", nhs_number="9000000017")
    courses = fhir_prescriptions.courses_from_bundle(
        load("medication_requests_bundle.json"), nhs_number="9000000017"
    )

    assert [r.course_ids for r in theirs] == [("mr-plan-9",)]
    assert courses == []


def test_specification_task_examples_read_as_one_request_per_task() -> None:
    """The specification's GET /Task examples: no groupIdentifier, so each Task (one
    course) is a request of its own; statuses and the rejection reason as the GP sets them."""
    tasks = list(fhir.bundle_resources(load("pfs_tasks_bundle.json"), "Task"))

    requests = fhir_prescriptions.requests_from_tasks(
        tasks, patient_ref="2", nhs_number="9000000009"
    )

    assert [(r.request_id, r.status) for r in requests] == [
        ("aef77afb-7e3c-427a-8657-2c427f71a271", PrescriptionRequestStatus.REQUESTED),
        ("84722efb-95b0-4769-921a-eda53382b320", PrescriptionRequestStatus.APPROVED),
        ("b395d57e-5d6c-4d2c-b590-fe2f2d708458", PrescriptionRequestStatus.REJECTED),
    ]
    assert {r.requested_by_ref for r in requests} == {"2"}
    assert {r.course_ids for r in requests} == {("06c7d0e2-1022-4e47-ac55-f6463d701a4f",)}
    assert requests[0].note == "Ran out of previous prescription"
    assert requests[2].rejection_reason == (
        "No longer suitable, please contact GP to organise an appointment"
    )
    (issued,) = fhir_prescriptions.requests_from_tasks(
        fhir.bundle_resources(load("pfs_tasks_completed_sent_to_eps.json"), "Task"),
        patient_ref="2",
        nhs_number="9000000009",
    )
    assert issued.status is PrescriptionRequestStatus.ISSUED
    included = load("pfs_tasks_include_medication_requests.json")
    assert (
        len(
            fhir_prescriptions.requests_from_tasks(
                fhir.bundle_resources(included, "Task"), patient_ref="2", nhs_number="9000000009"
            )
        )
        == 3
    )


def test_specification_medication_request_examples_give_the_authorised_courses() -> None:
    courses = fhir_prescriptions.courses_from_bundle(
        load("pfs_medication_requests_multiple.json"), nhs_number="9000000009"
    )

    assert {c.course_id: c.kind for c in courses} == {
        "4de39acf-73b1-4dc6-bb87-c98b57ee5413": CourseKind.REPEAT,
        "97046973-afbc-4a8f-98d1-27f9412c94e3": CourseKind.REPEAT,
    }
    by_id = {c.course_id: c for c in courses}
    assert by_id["4de39acf-73b1-4dc6-bb87-c98b57ee5413"].last_issued_on == date(2022, 11, 13)


def test_order_task_is_shaped_as_the_specification_example() -> None:
    example = load("pfs_task_post_request.json")

    task = fhir_prescriptions.order_task(
        "b269d1d7-1acf-47bb-8b3c-e38b583d9a07",
        nhs_number="9000000009",
        patient_display="Jane Smith",
        note="ran out of previous prescription",
        identifier="ce3354f5-98c2-43ad-95bd-a6df1c5ed169",
        group_id=None,
        authored=datetime(2022, 10, 13, 9, 20, 27, tzinfo=UTC),
    )

    # Everything the example shows but the optional one-off pharmacy (`input`).
    assert task == {key: value for key, value in example.items() if key != "input"}


def test_order_tasks_of_several_courses_share_a_group() -> None:
    tasks = [
        fhir_prescriptions.order_task(
            course,
            nhs_number="9000000009",
            patient_display=None,
            note=None,
            identifier=f"id-{course}",
            group_id="g-1",
            authored=datetime(2030, 1, 1, tzinfo=UTC),
        )
        for course in ("a", "b")
    ]

    assert [t["focus"] for t in tasks] == [
        {"reference": "MedicationRequest/a"},
        {"reference": "MedicationRequest/b"},
    ]
    assert {t["groupIdentifier"]["value"] for t in tasks} == {"g-1"}
    assert all("note" not in t and "display" not in t["for"] for t in tasks)
    assert tasks[0]["requester"] == tasks[0]["for"]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            RecordSection.ALLERGIES,
            [("al-2", "House dust mite allergy"), ("al-1", "Amoxicillin allergy")],
        ),
        (RecordSection.MEDICATIONS, [("ms-1", "Amlodipine 5mg tablets")]),
        (RecordSection.PROBLEMS, [("pr-1", "Hypertensive disorder")]),
        (RecordSection.IMMUNISATIONS, [("im-1", "Influenza vaccine")]),
        (RecordSection.CONSULTATIONS, [("en-1", "Surgery consultation")]),
        (
            RecordSection.TEST_RESULTS,
            # One entry per test, not per report: each test can be followed over time.
            [("ob-2", "Serum creatinine level"), ("ob-1", "Haemoglobin estimation")],
        ),
    ],
)
def test_structured_record_sections(
    section: RecordSection, expected: list[tuple[str, str]]
) -> None:
    entries = fhir_record.record_entries_from_bundle(
        load("structured_record_bundle.json"), section, nhs_number=NHS_NUMBER
    )

    assert [(e.entry_id, e.term) for e in entries] == expected
    assert all(e.section is section and not e.hidden for e in entries)


def test_record_entry_details_and_filing() -> None:
    bundle = load("structured_record_bundle.json")
    allergy = fhir_record.record_entries_from_bundle(
        bundle, RecordSection.ALLERGIES, nhs_number=NHS_NUMBER
    )[1]
    results = {
        e.entry_id: e
        for e in fhir_record.record_entries_from_bundle(
            bundle, RecordSection.TEST_RESULTS, nhs_number=NHS_NUMBER
        )
    }
    problem = fhir_record.record_entries_from_bundle(
        bundle, RecordSection.PROBLEMS, nhs_number=NHS_NUMBER
    )[0]

    assert (allergy.code, allergy.recorded_on, allergy.detail) == (
        "294505008",
        date(2019, 3, 14),
        "Rash after first dose",
    )
    haemoglobin = results["ob-1"].result
    assert results["ob-1"].filed and haemoglobin is not None
    assert (haemoglobin.text, haemoglobin.number, haemoglobin.unit) == ("131", 131.0, "g/L")
    assert not results["ob-2"].filed  # a partial report is not yet filed by a clinician
    assert problem.recorded_on == date(2018, 7, 12)


def test_structured_record_parameters_ask_for_one_area() -> None:
    body = fhir_record.structured_record_parameters("9000000009", RecordSection.ALLERGIES)

    assert body["resourceType"] == "Parameters"
    assert body["parameter"][0] == {
        "name": "patientNHSNumber",
        "valueIdentifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": "9000000009"},
    }
    assert body["parameter"][1]["name"] == "includeAllergies"


def test_patient_maps_official_name_and_nhs_number() -> None:
    patient = fhir.patient_from_fhir(load("patient.json"), ods_code="A81001")

    assert (patient.patient_ref, patient.nhs_number) == ("2", "9000000009")
    assert (patient.given_name, patient.family_name) == ("Jane", "Wolderton-Rodriguez")
    assert patient.birth_date == date(1936, 10, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019", date(2019, 1, 1)),
        ("2019-06", date(2019, 6, 1)),
        ("2019-06-05T10:00:00+01:00", date(2019, 6, 5)),
    ],
)
def test_partial_dates(value: str, expected: date) -> None:
    assert fhir.fhir_date(value) == expected


def test_a_medication_labelled_not_for_the_patient_is_hidden_and_its_task_left_out() -> None:
    """The patient-facing API defines no security labels; one that withholds a resource
    from the patient (ActCode NOPAT, Confidentiality R or V) hides it, failing closed."""
    source = load("medication_requests_bundle.json")
    nopat = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOPAT"}
    restricted = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
    normal = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}
    labels = {"mr-plan-1": nopat, "mr-plan-2": normal, "mr-plan-3": restricted}
    for entry in source["entry"]:
        resource = entry["resource"]
        if resource.get("id") in labels:
            resource["meta"] = {"security": [labels[resource["id"]]]}

    courses = {
        c.course_id: c
        for c in fhir_prescriptions.courses_from_bundle(source, nhs_number="9000000009")
    }

    assert {c: course.hidden for c, course in courses.items()} == {
        "mr-plan-1": True,
        "mr-plan-2": False,
        "mr-plan-3": True,
    }
    assert not any(c.third_party or c.harmful for c in courses.values())
    tasks = list(fhir.bundle_resources(load("tasks_bundle.json"), "Task"))
    labelled = [{**task, "meta": {"security": [nopat]}} for task in tasks]
    assert (
        fhir_prescriptions.requests_from_tasks(labelled, patient_ref="2", nhs_number="9000000009")
        == []
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # As in the access record document's example: absolute, at the documents server.
        ("http://exampleGPSystem.co.uk/GP0001/STU3/1/gpconnect-documents/Binary/07a6", "07a6"),
        ("Binary/D84004-P094-D1", "D84004-P094-D1"),  # relative: valid FHIR too
        ("https://gp.test/documents/Binary/abc?x=1", "abc"),
        ("https://gp.test/documents/DocumentReference/abc", None),
        ("Binary/", None),
        (None, None),
    ],
)
def test_a_documents_binary_id_from_its_attachment_url(url: object, expected: str | None) -> None:
    assert binary_id(url) == expected
