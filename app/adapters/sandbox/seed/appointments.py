"""Eight weeks of slots, the practice's cancellation reasons, and seeded appointments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.adapters.sandbox.personas import SeedPatient, patient_ref_for, seed_relationships
from app.adapters.sandbox.seed.people import PracticeSeed
from app.clock import LONDON
from app.gp.types import AppointmentStatus, AppointmentType

SLOT_DAYS = 56  # eight weeks of slots ahead, always
SLOT_MINUTES = 15

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
    "D84004": (
        ("Dr Nia Roberts", "GP"),
        ("Dr Felix Grant", "GP"),
        ("Maria Lopes", "Practice nurse"),
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


# --- appointments -------------------------------------------------------------------


# Who gets seeded appointments: (person, days ahead for the upcoming one, slot index)
_UPCOMING = {
    "olivia": 6, "lily": 8, "mohammed": 7, "grace": 9, "chloe": 12, "margaret": 10, "florence": 5,
}  # fmt: skip
_PAST = {
    "olivia", "mohammed", "grace", "james", "margaret", "robert", "helen", "priya", "daniel",
    "florence",
}  # fmt: skip


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
