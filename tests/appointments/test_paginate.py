"""Slot pages: earliest first, never splitting slots that start at the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.appointments.service import paginate
from app.gp.types import AppointmentType, Clinician, Slot

NINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def slot(minutes: int, n: int) -> Slot:
    start = NINE + timedelta(minutes=minutes)
    return Slot(
        f"s{minutes}-{n}",
        start,
        start + timedelta(minutes=10),
        AppointmentType.IN_PERSON,
        Clinician("Dr A", "GP"),
        "Room 1",
        "Morning",
    )


def test_a_short_list_is_one_page() -> None:
    slots = [slot(20, 0), slot(0, 0), slot(10, 0)]
    page, next_from = paginate(slots, 3)
    assert [s.slot_id for s in page] == ["s0-0", "s10-0", "s20-0"]
    assert next_from is None


def test_pages_break_between_start_times() -> None:
    slots = [slot(0, 0), slot(10, 0), slot(10, 1), slot(20, 0)]
    page, next_from = paginate(slots, 2)
    assert [s.slot_id for s in page] == ["s0-0"]
    assert next_from == NINE + timedelta(minutes=10)


def test_more_slots_at_one_time_than_a_page_holds_stay_together() -> None:
    slots = [slot(0, n) for n in range(4)] + [slot(30, 0)]
    page, next_from = paginate(slots, 2)
    assert len(page) == 4 and {s.start for s in page} == {NINE}
    assert next_from == NINE + timedelta(minutes=30)


def test_when_every_slot_starts_together_there_is_no_next_page() -> None:
    page, next_from = paginate([slot(0, n) for n in range(3)], 2)
    assert len(page) == 3
    assert next_from is None
