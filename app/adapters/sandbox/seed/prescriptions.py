"""The pharmacies, each patient's medicines (courses) and their past requests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from app.adapters.sandbox.personas import SeedPatient, age_on, patient_ref_for
from app.gp.types import CourseKind, PrescriptionRequestStatus

# The sandbox's pharmacies. The GP systems' table keeps ods_code, name and address; the
# sandbox pharmacy directory (app/pharmacies/sandbox.py) also shows postcode and phone.
# Telephone numbers are from Ofcom's ranges kept for drama, so they ring no one.
PHARMACIES = [
    {
        "ods_code": "FAA01",
        "name": "High Street Pharmacy",
        "address": "12 High Street, Riverside",
        "postcode": "RV1 2HS",
        "phone": "01632 960101",
    },
    {
        "ods_code": "FBB02",
        "name": "Oakfield Chemist",
        "address": "3 Market Place, Oakfield",
        "postcode": "OK4 3MP",
        "phone": "01632 960202",
    },
    {
        "ods_code": "FCC03",
        "name": "Harbour Pharmacy",
        "address": "48 Harbour Lane, Seaton",
        "postcode": "EX12 2HL",
        "phone": "01632 960303",
    },
    {
        "ods_code": "FDD04",
        "name": "Meadow View Pharmacy",
        "address": "7 Meadow View, Oakfield",
        "postcode": "OK4 7MV",
        "phone": "01632 960404",
    },
    {
        "ods_code": "FEE05",
        "name": "Online Dispensary",
        "address": "Unit 5, Park Road, Leeds",
        "postcode": "LS11 5PR",
        "phone": "0113 496 0505",
    },
]


_CourseSeed = tuple[str, str, str, CourseKind, int, int | None]
_ADULT_COURSES: tuple[_CourseSeed, ...] = (
    # name, dosage, quantity, kind, last issued (days ago), review due (days from today)
    ("Amlodipine 5mg tablets", "One tablet daily", "28 tablets", CourseKind.REPEAT, 25, 200),
    ("Atorvastatin 20mg tablets", "One tablet at night", "28 tablets", CourseKind.REPEAT, 40, 150),
    ("Omeprazole 20mg capsules", "One capsule daily", "28 capsules", CourseKind.REPEAT, 30, -10),
    ("Salbutamol 100micrograms/dose inhaler", "Two puffs when required", "1 inhaler",
     CourseKind.REPEAT, 3, 300),
    ("Amoxicillin 500mg capsules", "One capsule three times a day", "21 capsules",
     CourseKind.ACUTE, 60, None),
    ("Sertraline 50mg tablets", "One tablet daily", "28 tablets", CourseKind.REPEAT_DISPENSING,
     30, 120),
)  # fmt: skip
_CHILD_COURSES: tuple[_CourseSeed, ...] = (
    ("Cetirizine 1mg/ml oral solution", "5ml once daily", "150 ml", CourseKind.REPEAT, 35, 250),
    ("Amoxicillin 250mg/5ml oral suspension", "5ml three times a day", "100 ml",
     CourseKind.ACUTE, 75, None),
)  # fmt: skip
# A repeat medicine the practice hid from the online record (as it hid the record's
# entries for it, E23 and E26): never listed, orderable or named online. Every adult has it,
# after the others (C7), with requests that hold it (`_requests`).
_HIDDEN_COURSE: _CourseSeed = (
    "Acamprosate 333mg gastro-resistant tablets", "Two tablets three times a day",
    "168 tablets", CourseKind.REPEAT, 30, 120,
)  # fmt: skip
_RESIDENT_COURSES: tuple[_CourseSeed, ...] = (
    ("Donepezil 10mg tablets", "One tablet at night", "28 tablets", CourseKind.REPEAT, 26, 90),
    ("Bisoprolol 2.5mg tablets", "One tablet each morning", "28 tablets", CourseKind.REPEAT,
     27, 120),
    ("Lactulose 3.3g/5ml oral solution", "15ml twice a day", "500 ml", CourseKind.REPEAT,
     30, -5),
    ("Furosemide 40mg tablets", "One tablet each morning", "28 tablets", CourseKind.REPEAT,
     40, 60),
)  # fmt: skip


def _courses(patient: SeedPatient, today: date) -> list[dict[str, Any]]:
    if "care-home-resident" in patient.tags:
        catalogue = _RESIDENT_COURSES
    elif age_on(patient.birth_date, today) < 18:
        catalogue = _CHILD_COURSES
    else:
        catalogue = (*_ADULT_COURSES, _HIDDEN_COURSE)
    rows = []
    for number, course in enumerate(catalogue, start=1):
        name, dosage, quantity, kind, issued_ago, review_in = course
        rows.append(
            {
                "course_id": f"{patient.patient_ref}-C{number}",
                "patient_ref": patient.patient_ref,
                "name": name,
                "dosage": dosage,
                "quantity": quantity,
                "kind": kind.value,
                "last_issued_on": today - timedelta(days=issued_ago),
                "review_due_on": None if review_in is None else today + timedelta(days=review_in),
                "hidden": course is _HIDDEN_COURSE,
                "third_party": False,
                "harmful": False,
            }
        )
    return rows


def _requests(
    patient: SeedPatient, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One request in each status; the `requested` one makes a course pending. An adult's
    hidden medicine (C7) is in two more: one beside a visible medicine, one on its own."""
    ref = patient.patient_ref
    plan: list[tuple[int, tuple[str, ...], PrescriptionRequestStatus, str | None, str]]
    if "care-home-resident" in patient.tags:
        plan = [(1, ("C4",), PrescriptionRequestStatus.REQUESTED, None, patient_ref_for("susan"))]
    elif age_on(patient.birth_date, now.date()) < 18:
        return [], []
    else:
        plan = [
            (1, ("C2",), PrescriptionRequestStatus.REQUESTED, None, ref),
            (5, ("C4",), PrescriptionRequestStatus.APPROVED, None, ref),
            (45, ("C3",), PrescriptionRequestStatus.REJECTED,
             "Your medication review is due. Please book a review with the practice pharmacist.",
             ref),
            (26, ("C1",), PrescriptionRequestStatus.ISSUED, None, ref),
            (60, ("C1", "C7"), PrescriptionRequestStatus.ISSUED, None, ref),
            (2, ("C7",), PrescriptionRequestStatus.REQUESTED, None, ref),
        ]  # fmt: skip
    requests: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for number, (days_ago, courses, status, rejection, actor) in enumerate(plan, start=1):
        request_id = f"{ref}-R{number}"
        requests.append(
            {
                "request_id": request_id,
                "patient_ref": ref,
                "status": status.value,
                "requested_at": now - timedelta(days=days_ago, hours=3),
                "requested_by_ref": actor,
                "note": None,
                "rejection_reason": rejection,
            }
        )
        items.extend(
            {"request_id": request_id, "course_id": f"{ref}-{course}", "position": position}
            for position, course in enumerate(courses)
        )
    return requests, items
