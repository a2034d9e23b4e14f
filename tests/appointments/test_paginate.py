"""Slot pages: earliest first, never splitting slots that start at the same time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest

from app.appointments.service import SlotSearch, paginate, search_slots
from app.gp.types import AppointmentType, Clinician, Slot
from app.patients.service import ActingFor
from tests.patients.test_rules import PRACTICE

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


@dataclass
class SlotSystem:
    """Free slots as a GP system holds them; `honours_limit` False returns them all."""

    slots: list[Slot]
    honours_limit: bool = True
    asked: list[int | None] = field(default_factory=list)
    filters: list[tuple[str, AppointmentType | None, str | None]] = field(default_factory=list)

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        patient_ref: str,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
        self.asked.append(limit)
        self.filters.append((patient_ref, appointment_type, clinician))
        found = sorted(
            (s for s in self.slots if start <= s.start < end), key=lambda s: (s.start, s.slot_id)
        )
        return found[:limit] if self.honours_limit and limit is not None else found


async def search(
    system: SlotSystem,
    limit: int,
    appointment_type: AppointmentType | None = None,
    clinician: str | None = None,
) -> SlotSearch:
    acting = cast(
        ActingFor,
        SimpleNamespace(
            system=system, profile=SimpleNamespace(practice=PRACTICE), patient_ref="patient-1"
        ),
    )
    return await search_slots(
        acting,
        now=NINE - timedelta(hours=1),
        start=None,
        end=None,
        appointment_type=appointment_type,
        clinician=clinician,
        limit=limit,
    )


@pytest.mark.parametrize("honours_limit", [True, False])
async def test_a_search_asks_the_gp_system_for_one_more_than_the_page(
    honours_limit: bool,
) -> None:
    system = SlotSystem([slot(10 * i, 0) for i in range(30)], honours_limit=honours_limit)
    found = await search(system, 5)
    assert system.asked == [6]
    assert [s.slot_id for s in found.slots] == [f"s{10 * i}-0" for i in range(5)]
    assert found.next_from == NINE + timedelta(minutes=50)


async def test_a_page_that_fits_exactly_has_no_next_page() -> None:
    system = SlotSystem([slot(10 * i, 0) for i in range(5)])
    found = await search(system, 5)
    assert len(found.slots) == 5
    assert found.next_from is None


async def test_more_slots_at_one_time_than_a_page_holds_are_all_fetched() -> None:
    # Seven slots at 09:00 and one at 09:10: the first page holds all seven, which a
    # search stopped at six would have cut short.
    system = SlotSystem([slot(0, n) for n in range(7)] + [slot(10, 0)])
    found = await search(system, 5)
    assert system.asked == [6, None]
    assert [s.slot_id for s in found.slots] == [f"s0-{n}" for n in range(7)]
    assert found.next_from == NINE + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("slots", "page", "next_minutes"),
    [
        # One slot, then more at 09:10 than a page holds: the page is the 09:00 slot.
        ([slot(0, 0)] + [slot(10, n) for n in range(6)], ["s0-0"], 10),
        # Two at 09:00, then one every ten minutes.
        ([slot(0, 0), slot(0, 1)] + [slot(10 * i, 0) for i in range(1, 6)],
         ["s0-0", "s0-1", "s10-0", "s20-0", "s30-0"], 40),
        # A full page at 09:00 and the next slot later.
        ([slot(0, n) for n in range(5)] + [slot(10, 0)], [f"s0-{n}" for n in range(5)], 10),
    ],
)  # fmt: skip
async def test_slots_that_do_not_all_start_together_need_one_gp_call(
    slots: list[Slot], page: list[str], next_minutes: int
) -> None:
    system = SlotSystem(slots)
    found = await search(system, 5)
    assert system.asked == [6]
    assert [s.slot_id for s in found.slots] == page
    assert found.next_from == NINE + timedelta(minutes=next_minutes)


async def test_asking_again_keeps_the_patient_and_their_filters() -> None:
    system = SlotSystem([slot(0, n) for n in range(7)])
    await search(system, 5, AppointmentType.TELEPHONE, "shah")
    assert system.asked == [6, None]
    assert system.filters == [("patient-1", AppointmentType.TELEPHONE, "shah")] * 2
