"""Every row of a freshly seeded sandbox for a day, computed in Python."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.adapters.sandbox import tables
from app.adapters.sandbox.personas import LOAD_TEST_TAG, age_on, seed_patients, seed_relationships
from app.adapters.sandbox.profiles import CancellationReasons, get_profile
from app.adapters.sandbox.seed.appointments import (
    SLOT_DAYS,
    VISION_CANCELLATION_REASONS,
    _appointments,
    slot_rows,
)
from app.adapters.sandbox.seed.people import (
    DEFAULT_PRACTICES,
    PracticeSeed,
    patient_row,
    practice_row,
    practices_to_seed,
    relationship_row,
)
from app.adapters.sandbox.seed.prescriptions import PHARMACIES, _courses, _requests
from app.adapters.sandbox.seed.record import _documents, _record_entries
from app.clock import LONDON

SeedRows = dict[str, list[dict[str, Any]]]


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
        relationship_row(rel)
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
