"""`GET …/prescriptions/courses`: what can be ordered now, and why not, on every supplier."""

from __future__ import annotations

from datetime import date, time, timedelta

from tests.prescriptions.conftest import MakeOrderer

# Days between issues each sandbox practice requires (its re-order interval).
REORDER_DAYS = {"A81001": 21, "B82002": 14, "C83003": 21}


async def test_repeat_courses_with_why_each_cannot_be_ordered(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)
    courses = await patient.courses()

    # Acute medicines are never listed: they cannot be ordered online.
    assert sorted(courses) == [
        "Amlodipine",
        "Atorvastatin",
        "Omeprazole",
        "Salbutamol",
        "Sertraline",
    ]
    assert {c["kind"] for c in courses.values()} == {"repeat", "repeat_dispensing"}
    names = [c["name"] for c in courses.values()]
    assert names == sorted(names, key=str.casefold)

    expected = {
        "Amlodipine": None,
        "Sertraline": None,
        "Atorvastatin": "request_pending",
        "Omeprazole": "review_overdue",
        "Salbutamol": "too_soon",
    }
    for name, reason in expected.items():
        course = courses[name]
        assert course["reason"] == reason, name
        assert course["orderable"] is (reason is None), name
        assert (course["reason_detail"] is None) is (reason is None), name

    salbutamol = courses["Salbutamol"]
    first_day = date.fromisoformat(salbutamol["last_issued_on"]) + timedelta(
        days=REORDER_DAYS[ods_code]
    )
    assert salbutamol["orderable_from"] == first_day.isoformat()
    assert f"{first_day:%-d %B %Y}" in salbutamol["reason_detail"]


async def test_a_course_becomes_orderable_on_the_first_allowed_day(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)
    salbutamol = (await patient.courses())["Salbutamol"]
    first_day = date.fromisoformat(salbutamol["orderable_from"])

    # A minute before the day starts in England: still too soon. Sessions end after 30
    # minutes idle, so sign in again.
    patient.clock.move_to(first_day - timedelta(days=1), time(23, 59))
    patient = await orderer("adult-full", ods_code)
    assert (await patient.courses())["Salbutamol"]["reason"] == "too_soon"

    patient.clock.move_to(first_day, time(0, 1))
    patient = await orderer("adult-full", ods_code)
    assert (await patient.courses())["Salbutamol"]["orderable"] is True


async def test_a_review_due_today_is_not_yet_overdue(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", "A81001")
    amlodipine = (await patient.courses())["Amlodipine"]
    review_due = date.fromisoformat(amlodipine["review_due_on"])

    patient.clock.move_to(review_due, time(23, 59))
    patient = await orderer("adult-full", "A81001")
    assert (await patient.courses())["Amlodipine"]["orderable"] is True

    patient.clock.move_to(review_due + timedelta(days=1), time(0, 1))
    patient = await orderer("adult-full", "A81001")
    assert (await patient.courses())["Amlodipine"]["reason"] == "review_overdue"


async def test_a_carer_sees_the_residents_courses(orderer: MakeOrderer) -> None:
    carer = await orderer("carer", acts_for="care-home-resident")
    courses = await carer.courses()
    assert set(courses) == {"Bisoprolol", "Donepezil", "Furosemide", "Lactulose"}
    assert courses["Lactulose"]["reason"] == "review_overdue"
    assert courses["Furosemide"]["reason"] == "request_pending"
