"""Deterministic seed data for the simulated GP systems, and the bootstrap.

`build_seed_rows(today, practices)` computes every row in Python (fast, and
the same on every run for a given day); `bootstrap` upgrades the tables
(`schema.upgrade`), seeds an empty database, and on a later day tops the slots
up to eight weeks ahead and re-ages the seeded patients, never touching bookings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sandbox import schema, tables
from app.adapters.sandbox.personas import (
    LOAD_TEST_TAG,
    PRACTICE_NAMES,
    PRACTICE_PROFILES,
    SeedPatient,
    age_on,
    patient_ref_for,
    seed_patients,
    seed_relationships,
)
from app.adapters.sandbox.profiles import CancellationReasons, get_profile
from app.clock import LONDON
from app.gp.types import (
    AUTOMATIC_ACCESS_START,
    AppointmentStatus,
    AppointmentType,
    CourseKind,
    PrescriptionRequestStatus,
    RecordSection,
)

logger = logging.getLogger(__name__)

SLOT_DAYS = 56  # eight weeks of slots ahead, always
SLOT_MINUTES = 15
SeedRows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class PracticeSeed:
    ods_code: str
    name: str
    profile: str


DEFAULT_PRACTICES = tuple(
    PracticeSeed(ods, PRACTICE_NAMES[ods], PRACTICE_PROFILES[ods]) for ods in PRACTICE_NAMES
)


def practices_to_seed(configured: Iterable[PracticeSeed]) -> list[PracticeSeed]:
    """The three persona practices (named as configured) plus any other configured ones."""
    by_code = {practice.ods_code: practice for practice in DEFAULT_PRACTICES}
    for practice in configured:
        by_code[practice.ods_code] = practice
    return sorted(by_code.values(), key=lambda practice: practice.ods_code)


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

VISION_CANCELLATION_REASONS = [
    ("CR1", "I no longer need the appointment"),
    ("CR2", "I cannot make this time"),
    ("CR3", "I have booked another appointment"),
]


# --- slots ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Session:
    name: str
    clinician: int  # index into the practice's clinicians
    starts: time
    count: int
    types: tuple[AppointmentType, ...]  # cycled through slot by slot
    location: str


_SESSIONS = (
    _Session("Morning surgery", 0, time(8, 30), 8, (AppointmentType.IN_PERSON,), "Room 1"),
    _Session("Nurse clinic", 2, time(9, 0), 8, (AppointmentType.IN_PERSON,), "Treatment room"),
    _Session(
        "Afternoon remote clinic",
        1,
        time(14, 0),
        8,
        (AppointmentType.TELEPHONE, AppointmentType.VIDEO),
        "Remote",
    ),
)

_CLINICIANS = {
    "A81001": (("Dr Amelia Hart", "GP"), ("Dr Tom Nguyen", "GP"), ("Ruth Bell", "Practice nurse")),
    "B82002": (
        ("Dr Kofi Mensah", "GP"),
        ("Dr Sarah Lloyd", "GP"),
        ("Jack Doyle", "Practice nurse"),
    ),
    "C83003": (
        ("Dr Hannah Price", "GP"),
        ("Dr Imran Qureshi", "GP"),
        ("Beth Owen", "Advanced nurse practitioner"),
    ),
}
_DEFAULT_CLINICIANS = (("Dr Alex Green", "GP"), ("Dr Jo White", "GP"), ("Sam Kerr", "Nurse"))


def slot_rows(practice: PracticeSeed, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """Weekday slots from `first_day` to `last_day` inclusive, with deterministic ids."""
    clinicians = _CLINICIANS.get(practice.ods_code, _DEFAULT_CLINICIANS)
    rows: list[dict[str, Any]] = []
    day = first_day
    while day <= last_day:
        if day.weekday() < 5:
            for session in _SESSIONS:
                name, role = clinicians[session.clinician]
                start = datetime.combine(day, session.starts, tzinfo=LONDON)
                for index in range(session.count):
                    slot_start = (start + timedelta(minutes=SLOT_MINUTES * index)).astimezone(UTC)
                    slot_type = session.types[index % len(session.types)]
                    location = (
                        f"{session.location}, {practice.name}"
                        if slot_type is AppointmentType.IN_PERSON
                        else f"{slot_type.value.title()} appointment"
                    )
                    local = start + timedelta(minutes=SLOT_MINUTES * index)
                    rows.append(
                        {
                            "slot_id": (
                                f"{practice.ods_code}-S{local:%Y%m%d%H%M}-{session.clinician}"
                            ),
                            "ods_code": practice.ods_code,
                            "start": slot_start,
                            "end": slot_start + timedelta(minutes=SLOT_MINUTES),
                            "type": slot_type.value,
                            "clinician_name": name,
                            "clinician_role": role,
                            "location": location,
                            "session": session.name,
                            "status": "free",
                        }
                    )
        day += timedelta(days=1)
    return rows


# --- clinical content ---------------------------------------------------------------


# A result as reported: text, number, unit, reference range low and high.
_Result = tuple[str, float | None, str | None, float | None, float | None]


def _hba1c(mmol_per_mol: int) -> _Result:
    return (str(mmol_per_mol), float(mmol_per_mol), "mmol/mol", 20.0, 41.0)


def _entry(
    patient: SeedPatient,
    number: int,
    section: RecordSection,
    recorded_on: date,
    term: str,
    code: str | None = None,
    detail: str | None = None,
    result: _Result | None = None,
    **flags: bool,
) -> dict[str, Any]:
    text, value, unit, low, high = result or (None, None, None, None, None)
    return {
        "entry_id": f"{patient.patient_ref}-E{number:02d}",
        "patient_ref": patient.patient_ref,
        "section": section.value,
        "recorded_on": recorded_on,
        "term": term,
        "code": code,
        "detail": detail,
        "result_text": text,
        "result_number": value,
        "result_unit": unit,
        "range_low": low,
        "range_high": high,
        "range_text": None if low is None or high is None else f"{low:g} - {high:g}",
        "hidden": flags.get("hidden", False),
        "third_party": flags.get("third_party", False),
        "harmful": flags.get("harmful", False),
        "filed": flags.get("filed", True),
    }


HBA1C = "1107481000000106"  # Haemoglobin A1c level (IFCC standardised)


def _record_entries(patient: SeedPatient, today: date) -> list[dict[str, Any]]:
    """Entries before and after 1 November 2023, with every visibility flag in use."""
    s = RecordSection

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    if age_on(patient.birth_date, today) < 18:
        return [
            _entry(
                patient,
                1,
                s.IMMUNISATIONS,
                patient.birth_date + timedelta(days=365),
                "Measles, mumps and rubella vaccination",
                "38598009",
            ),
            _entry(
                patient,
                2,
                s.IMMUNISATIONS,
                ago(40),
                "Seasonal influenza vaccination (nasal)",
                "868241000000109",
            ),
            _entry(patient, 3, s.ALLERGIES, ago(700), "No known drug allergy", "409137002"),
            _entry(
                patient,
                4,
                s.CONSULTATIONS,
                ago(75),
                "Consultation: earache",
                detail="Otitis media. Advised pain relief; review if not settling.",
            ),
            _entry(
                patient,
                5,
                s.CONSULTATIONS,
                ago(60),
                "Safeguarding discussion",
                detail="Discussion with health visitor.",
                hidden=True,
                harmful=True,
            ),
            _entry(patient, 6, s.PROBLEMS, ago(900), "Eczema", "43116000"),
        ]
    entries = [
        _entry(patient, 1, s.ALLERGIES, date(2012, 3, 14), "Penicillin allergy", "91936005",
               "Rash"),
        _entry(patient, 2, s.ALLERGIES, ago(200), "Allergy to peanuts", "91935009"),
        _entry(patient, 3, s.PROBLEMS, date(2009, 6, 2), "Asthma", "195967001"),
        _entry(patient, 4, s.PROBLEMS, ago(400), "Essential hypertension", "59621000"),
        _entry(patient, 5, s.IMMUNISATIONS, date(2021, 10, 12), "COVID-19 vaccination",
               "1324681000000101"),
        _entry(patient, 6, s.IMMUNISATIONS, ago(50), "Seasonal influenza vaccination",
               "822851000000102"),
        _entry(patient, 7, s.MEDICATIONS, ago(90), "Amlodipine 5mg tablets",
               detail="One tablet daily"),
        _entry(patient, 8, s.MEDICATIONS, date(2019, 4, 1), "Salbutamol 100micrograms inhaler",
               detail="Two puffs when required"),
        _entry(patient, 9, s.TEST_RESULTS, ago(60), "Haemoglobin A1c level", HBA1C,
               "Within target.", _hba1c(38)),
        _entry(patient, 10, s.TEST_RESULTS, date(2022, 8, 9), "Serum cholesterol",
               "1005671000000105", result=("5.1", 5.1, "mmol/L", None, 5.0)),
        # Not yet reviewed by a clinician: never shown online until filed.
        _entry(patient, 11, s.TEST_RESULTS, ago(3), "Haemoglobin concentration", "1022431000000105",
               result=("98", 98.0, "g/L", 115.0, 165.0), filed=False),
        _entry(patient, 12, s.CONSULTATIONS, date(2020, 2, 11), "Lower respiratory tract infection",
               "50417007", "Productive cough for a week. Chest clear. Advised fluids."),
        _entry(patient, 13, s.CONSULTATIONS, ago(30), "Blood pressure review", "1091811000000102",
               "BP 132/84. Continue amlodipine."),
        _entry(patient, 14, s.CONSULTATIONS, ago(20), "Consultation: telephone follow-up",
               detail="Discussed home circumstances.", hidden=True),
        _entry(patient, 15, s.PROBLEMS, ago(100), "Family history of breast cancer",
               "429740004", "Mother diagnosed aged 52.", third_party=True),
        _entry(patient, 16, s.CONSULTATIONS, ago(10), "Consultation: results discussion planned",
               detail="Awaiting specialist opinion before discussing prognosis.", harmful=True),
        _entry(patient, 17, s.CONSULTATIONS, AUTOMATIC_ACCESS_START, "Consultation: annual review",
               detail="Well. No changes."),
        # The same test over two years, so apps can draw its trend; one result the
        # practice hid, which must never appear in it.
        _entry(patient, 18, s.TEST_RESULTS, ago(240), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(44)),
        _entry(patient, 19, s.TEST_RESULTS, ago(420), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(47)),
        _entry(patient, 20, s.TEST_RESULTS, ago(600), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(49)),
        _entry(patient, 21, s.TEST_RESULTS, ago(730), "Haemoglobin A1c level", HBA1C,
               "Repeat in six months.", _hba1c(52)),
        _entry(patient, 22, s.TEST_RESULTS, ago(330), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(61), hidden=True),
        # Each withholding flag before 1 November 2023 too.
        _entry(patient, 23, s.PROBLEMS, date(2019, 9, 3), "Alcohol misuse", "7200002",
               hidden=True),
        _entry(patient, 24, s.CONSULTATIONS, date(2018, 5, 22), "Discussion about a relative",
               "408402003", "Spouse's diagnosis discussed.", third_party=True),
        _entry(patient, 25, s.TEST_RESULTS, date(2021, 3, 17), "Prostate specific antigen level",
               "1030791000000100", result=("9.8", 9.8, "ug/L", 0.0, 4.0), harmful=True),
        # A medicine the practice hid, also a repeat course (`_HIDDEN_COURSE`): named
        # nowhere online, neither here nor in the prescriptions routes.
        _entry(patient, 26, s.MEDICATIONS, ago(200), _HIDDEN_COURSE[0], detail=_HIDDEN_COURSE[1],
               hidden=True),
    ]  # fmt: skip
    return entries


_TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _documents(patient: SeedPatient, today: date) -> list[dict[str, Any]]:
    def doc(number: int, title: str, recorded_on: date, content_type: str, data: bytes,
            **flags: bool) -> dict[str, Any]:  # fmt: skip
        return {
            "document_id": f"{patient.patient_ref}-D{number}",
            "patient_ref": patient.patient_ref,
            "title": title,
            "recorded_on": recorded_on,
            "content_type": content_type,
            "data": data,
            "hidden": flags.get("hidden", False),
            "third_party": flags.get("third_party", False),
            "harmful": flags.get("harmful", False),
        }

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    return [
        doc(1, "Hospital discharge summary", ago(120), "text/plain",
            b"Discharge summary: admitted for observation, discharged home the next day.\n"),
        doc(2, "Outpatient clinic letter", date(2021, 5, 20), "application/pdf", _TINY_PDF),
        doc(3, "Letter about a family member", ago(70), "text/plain",
            b"Letter concerning a relative's care.\n", third_party=True),
        doc(4, "Safeguarding report", ago(40), "text/plain",
            b"Confidential report.\n", hidden=True, harmful=True),
    ]  # fmt: skip


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


# Who gets seeded appointments: (person, days ahead for the upcoming one, slot index)
_UPCOMING = {"olivia": 6, "lily": 8, "mohammed": 7, "grace": 9, "chloe": 12, "margaret": 10}
_PAST = {"olivia", "mohammed", "grace", "james", "margaret", "robert", "helen", "priya", "daniel"}


def _appointment_row(
    patient: SeedPatient,
    number: int,
    status: AppointmentStatus,
    start: datetime,
    slot: dict[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "appointment_id": f"{patient.patient_ref}-A{number}",
        "ods_code": patient.ods_code,
        "patient_ref": patient.patient_ref,
        "slot_id": slot["slot_id"] if slot else None,
        "start": start,
        "end": start + timedelta(minutes=SLOT_MINUTES),
        "type": slot["type"] if slot else AppointmentType.IN_PERSON.value,
        "clinician_name": slot["clinician_name"] if slot else "Dr Locum",
        "clinician_role": slot["clinician_role"] if slot else "GP",
        "location": slot["location"] if slot else "Room 2",
        "status": status.value,
        "reason": extra.get("reason"),
        "telephone_number": None,
        "booked_by_ref": extra.get("booked_by", patient.patient_ref),
        "cancellation_reason": extra.get("cancellation_reason"),
        "version": 1,
    }


def _appointments(
    patients: Sequence[SeedPatient], slots: list[dict[str, Any]], today: date
) -> list[dict[str, Any]]:
    """Past appointments (attended, missed, cancelled) and upcoming ones in real slots."""
    rows: list[dict[str, Any]] = []
    refs = {patient_ref_for(key): key for key in _UPCOMING.keys() | _PAST}
    parents = {rel.patient_ref: rel.user_ref for rel in seed_relationships(today)}

    def at(days_ago: int) -> datetime:
        day = today - timedelta(days=days_ago)
        return datetime.combine(day, time(10, 0), tzinfo=LONDON).astimezone(UTC)

    for patient in patients:
        key = refs.get(patient.patient_ref)
        if key is None:
            continue
        if key in _PAST:
            rows += [
                _appointment_row(patient, 1, AppointmentStatus.ATTENDED, at(91), None,
                                 reason="Blood pressure check"),
                _appointment_row(patient, 2, AppointmentStatus.DID_NOT_ATTEND, at(182), None),
                _appointment_row(patient, 3, AppointmentStatus.CANCELLED, at(33), None,
                                 cancellation_reason="Unable to attend"),
            ]  # fmt: skip
        if key in _UPCOMING:
            day = today + timedelta(days=_UPCOMING[key])
            slot = next(
                slot
                for slot in slots
                if slot["ods_code"] == patient.ods_code
                and slot["start"].astimezone(LONDON).date() >= day
                and slot["status"] == "free"
            )
            slot["status"] = "booked"
            rows.append(
                _appointment_row(
                    patient, 4, AppointmentStatus.BOOKED, slot["start"], slot,
                    reason="Follow-up appointment",
                    booked_by=parents.get(patient.patient_ref, patient.patient_ref),
                )
            )  # fmt: skip
    return rows


# --- rows ----------------------------------------------------------------------------


def practice_row(practice: PracticeSeed) -> dict[str, Any]:
    defaults = get_profile(practice.profile).defaults
    return {
        "ods_code": practice.ods_code,
        "name": practice.name,
        "profile": practice.profile,
        "appointments_enabled": True,
        "prescriptions_enabled": True,
        "record_enabled": True,
        "booking_reason": defaults.booking_reason.value,
        "booking_reason_max_length": defaults.booking_reason_max_length,
        "max_future_appointments": defaults.max_future_appointments,
        "booking_window_days": defaults.booking_window_days,
        "default_search_days": defaults.default_search_days,
        "cancellation_cutoff_minutes": defaults.cancellation_cutoff_minutes,
        "max_prescription_items": defaults.max_prescription_items,
        "prescription_note_max_length": defaults.prescription_note_max_length,
        "minimum_reorder_days": defaults.minimum_reorder_days,
        "prescription_note_required": defaults.prescription_note_required,
    }


def _practice_rows(practice: PracticeSeed, today: date) -> SeedRows:
    rows: SeedRows = {
        tables.practices.name: [practice_row(practice)],
        tables.slots.name: slot_rows(practice, today, today + timedelta(days=SLOT_DAYS - 1)),
        tables.cancellation_reasons.name: [],
    }
    if get_profile(practice.profile).cancellation_reasons is CancellationReasons.PRACTICE:
        rows[tables.cancellation_reasons.name] = [
            {"ods_code": practice.ods_code, "code": code, "text": text}
            for code, text in VISION_CANCELLATION_REASONS
        ]
    return rows


def patient_row(patient: SeedPatient) -> dict[str, Any]:
    return {
        "patient_ref": patient.patient_ref,
        "ods_code": patient.ods_code,
        "nhs_number": patient.nhs_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
        "tags": " ".join(patient.tags),
        "online_account": patient.online_account,
        "identity_level": patient.identity_level,
        "gp_user_id": patient.gp_user_id,
        "gp_linkage_key": patient.gp_linkage_key,
        "email": patient.email,
        "phone_number": patient.phone_number,
        "record_summary": patient.record_summary,
        "record_detailed_coded": patient.record_detailed_coded,
        "prospective_from": patient.prospective_from,
        "historic_access": patient.historic_access,
        "unavailable_sections": " ".join(patient.unavailable_sections),
        "declined": patient.declined,
        "enhanced_review": patient.enhanced_review,
        "nominated_pharmacy": patient.nominated_pharmacy,
        "lock_version": 0,
    }


def build_seed_rows(today: date, practices: Sequence[PracticeSeed] = DEFAULT_PRACTICES) -> SeedRows:
    """Every row of a freshly seeded sandbox, keyed by table name, for `today`."""
    now = datetime.combine(today, time(9, 0), tzinfo=LONDON).astimezone(UTC)
    rows: SeedRows = {table.name: [] for table in tables.metadata.sorted_tables}
    rows[tables.meta.name] = [
        {"key": "seeded_on", "value": today.isoformat()},
        {"key": "aged_on", "value": today.isoformat()},
        {"key": "slots_until", "value": (today + timedelta(days=SLOT_DAYS - 1)).isoformat()},
    ]
    columns = tables.pharmacies.columns.keys()
    rows[tables.pharmacies.name] = [
        {column: pharmacy[column] for column in columns} for pharmacy in PHARMACIES
    ]
    for practice in practices_to_seed(practices):
        for name, practice_rows in _practice_rows(practice, today).items():
            rows[name].extend(practice_rows)
    patients = [
        patient
        for patient in seed_patients(today)
        if any(row["ods_code"] == patient.ods_code for row in rows[tables.practices.name])
    ]
    rows[tables.patients.name] = [patient_row(patient) for patient in patients]
    known = {patient.patient_ref for patient in patients}
    rows[tables.relationships.name] = [
        {
            "user_ref": rel.user_ref,
            "patient_ref": rel.patient_ref,
            "kind": rel.kind.value,
            "appointments": rel.appointments,
            "prescriptions": rel.prescriptions,
            "record_level": rel.record_level.value,
            "record_from": rel.record_from,
            "record_historic": rel.record_historic,
            "starts_on": rel.starts_on,
            "ends_on": rel.ends_on,
            "review_recorded": rel.review_recorded,
        }
        for rel in seed_relationships(today)
        if rel.user_ref in known and rel.patient_ref in known
    ]
    for patient in patients:
        rows[tables.courses.name].extend(_courses(patient, today))
        if LOAD_TEST_TAG in patient.tags:
            continue  # an account to book and order with: no record to seed
        rows[tables.record_entries.name].extend(_record_entries(patient, today))
        if "background" in patient.tags:
            continue
        if age_on(patient.birth_date, today) >= 18:
            rows[tables.documents.name].extend(_documents(patient, today))
        requests, items = _requests(patient, now)
        rows[tables.prescription_requests.name].extend(requests)
        rows[tables.prescription_request_items.name].extend(items)
    rows[tables.appointments.name] = _appointments(patients, rows[tables.slots.name], today)
    return rows


# --- writing ---------------------------------------------------------------------------


async def insert_rows(connection: AsyncConnection, rows: SeedRows) -> None:
    """Bulk-insert seed rows, parents before children."""
    for table in tables.metadata.sorted_tables:
        table_rows = rows.get(table.name)
        if table_rows:
            await connection.execute(insert(table), [dict(row) for row in table_rows])


async def clear(connection: AsyncConnection) -> None:
    """Empty every sandbox table (children first)."""
    if connection.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables.metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {names}"))
        return
    for table in reversed(tables.metadata.sorted_tables):
        await connection.execute(delete(table))


async def load(engine: AsyncEngine, rows: SeedRows, *, reset: bool = True) -> None:
    """Upgrade the tables and load `rows`, emptying them first when `reset`."""
    await schema.upgrade(engine)
    async with engine.begin() as connection:
        if reset:
            await clear(connection)
        await insert_rows(connection, rows)


async def _meta(connection: AsyncConnection) -> dict[str, str]:
    result = await connection.execute(select(tables.meta.c.key, tables.meta.c.value))
    return {key: value for key, value in result.all()}


async def bootstrap(
    engine: AsyncEngine, today: date, practices: Sequence[PracticeSeed] = DEFAULT_PRACTICES
) -> str:
    """Make the sandbox ready for `today`: `seeded`, `topped_up` or `ready` (nothing to do).

    Safe to run from several processes at once: the seed is one transaction that
    starts by claiming the `seeded_on` key, and a top-up claims its day the same way.
    The tables are upgraded in place first, keeping every booking, order and message.
    """
    await schema.upgrade(engine)
    async with engine.connect() as connection:
        state = await _meta(connection)
    if "seeded_on" not in state:
        try:
            await load(engine, build_seed_rows(today, practices), reset=False)
        except IntegrityError:
            logger.info("sandbox already seeded by another process")
            return "ready"
        logger.info("sandbox seeded", extra={"seeded_on": today.isoformat()})
        return "seeded"
    return await top_up(engine, today, practices, state)


async def top_up(
    engine: AsyncEngine,
    today: date,
    practices: Sequence[PracticeSeed],
    state: dict[str, str],
) -> str:
    """Keep eight weeks of slots ahead, add newly configured practices, re-age personas."""
    wanted_until = today + timedelta(days=SLOT_DAYS - 1)
    slots_until = date.fromisoformat(state["slots_until"])
    aged_on = state.get("aged_on")
    async with engine.connect() as connection:
        existing = set((await connection.execute(select(tables.practices.c.ods_code))).scalars())
    missing = [p for p in practices_to_seed(practices) if p.ods_code not in existing]
    if slots_until >= wanted_until and aged_on == today.isoformat() and not missing:
        return "ready"
    async with engine.begin() as connection:
        # Claim this top-up: only one process moves the marker from what it read.
        claimed = await connection.execute(
            update(tables.meta)
            .where(tables.meta.c.key == "slots_until", tables.meta.c.value == state["slots_until"])
            .values(value=max(slots_until, wanted_until).isoformat())
        )
        if claimed.rowcount != 1:
            return "ready"
        for practice in missing:
            for name, rows in _practice_rows(practice, today).items():
                if rows:
                    await connection.execute(insert(_table(name)), rows)
        if slots_until < wanted_until:
            first = max(slots_until + timedelta(days=1), today)
            known = [p for p in practices_to_seed(practices) if p.ods_code in existing]
            stored = {
                row.ods_code: row
                for row in await connection.execute(
                    select(tables.practices.c.ods_code, tables.practices.c.name)
                )
            }
            new_slots = [
                slot
                for practice in known
                for slot in slot_rows(
                    PracticeSeed(practice.ods_code, stored[practice.ods_code].name,
                                 practice.profile),
                    first,
                    wanted_until,
                )
            ]  # fmt: skip
            if new_slots:
                await connection.execute(insert(tables.slots), new_slots)
            # Free slots in the past are of no use to anyone; booked ones stay.
            cutoff = datetime.combine(today - timedelta(days=1), time(0), tzinfo=UTC)
            await connection.execute(
                delete(tables.slots).where(
                    tables.slots.c.status == "free", tables.slots.c.end < cutoff
                )
            )
        if aged_on != today.isoformat():
            # Birth dates count back from today, so ages (16 three weeks ago) stay right.
            # One executemany, not a statement per patient.
            await connection.execute(
                update(tables.patients)
                .where(tables.patients.c.patient_ref == bindparam("ref"))
                .values(birth_date=bindparam("born")),
                [{"ref": p.patient_ref, "born": p.birth_date} for p in seed_patients(today)],
            )
            await connection.execute(
                update(tables.meta)
                .where(tables.meta.c.key == "aged_on")
                .values(value=today.isoformat())
            )
    logger.info("sandbox topped up", extra={"slots_until": wanted_until.isoformat()})
    return "topped_up"


def _table(name: str) -> Table:
    return tables.metadata.tables[name]


async def fingerprint(connection: AsyncConnection) -> tuple[Any, ...]:
    """A cheap summary that changes whenever the adapter writes anything.

    Test fixtures compare it with the one taken after seeding, to re-seed a
    shared database only when a test changed it.
    """
    counts = [
        select(func.count()).select_from(table).scalar_subquery()
        for table in tables.metadata.sorted_tables
    ]
    changes = [
        select(func.coalesce(func.sum(tables.patients.c.lock_version), 0)).scalar_subquery(),
        select(func.count())
        .select_from(tables.slots)
        .where(tables.slots.c.status == "booked")
        .scalar_subquery(),
        select(func.coalesce(func.sum(tables.appointments.c.version), 0)).scalar_subquery(),
        select(func.count())
        .select_from(tables.prescription_requests)
        .where(tables.prescription_requests.c.status == "requested")
        .scalar_subquery(),
    ]
    summary = (await connection.execute(select(*counts, *changes))).one()
    meta = (await connection.execute(select(tables.meta).order_by(tables.meta.c.key))).all()
    practices = (
        await connection.execute(select(tables.practices).order_by(tables.practices.c.ods_code))
    ).all()
    return (tuple(summary), tuple(map(tuple, meta)), tuple(map(tuple, practices)))
