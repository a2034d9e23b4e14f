"""Deterministic seed data for the simulated GP systems, and the bootstrap.

`build_seed_rows(today, practices)` computes every row in Python (fast, and
the same on every run for a given day); `bootstrap` upgrades the tables
(`schema.upgrade`), seeds an empty database, and on a later day tops the slots
up to eight weeks ahead and re-ages the seeded patients, never touching bookings.

Each capability's rows have a module of their own: `people.py` (practices and their
settings, patients, relationships), `appointments.py` (slots, cancellation reasons,
appointments), `prescriptions.py` (pharmacies, courses, requests), `record.py` (entries
and documents); `rows.py` puts them together and `storage.py` writes them.
"""

from __future__ import annotations

from app.adapters.sandbox.seed.appointments import (
    SLOT_DAYS,
    SLOT_MINUTES,
    VISION_CANCELLATION_REASONS,
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
from app.adapters.sandbox.seed.prescriptions import PHARMACIES
from app.adapters.sandbox.seed.record import HBA1C
from app.adapters.sandbox.seed.rows import SeedRows, build_seed_rows
from app.adapters.sandbox.seed.storage import (
    bootstrap,
    clear,
    fingerprint,
    insert_rows,
    load,
    top_up,
)

__all__ = [
    "DEFAULT_PRACTICES",
    "HBA1C",
    "PHARMACIES",
    "SLOT_DAYS",
    "SLOT_MINUTES",
    "VISION_CANCELLATION_REASONS",
    "PracticeSeed",
    "SeedRows",
    "bootstrap",
    "build_seed_rows",
    "clear",
    "fingerprint",
    "insert_rows",
    "load",
    "patient_row",
    "practice_row",
    "practices_to_seed",
    "relationship_row",
    "slot_rows",
    "top_up",
]
