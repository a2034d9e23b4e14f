"""Slots and bookings across the October clock change, ten days after the suite's date.

UK clocks go back on Sunday 25 October 2026 (tests/frozen.py): a nurse clinic at 09:00
in England starts at 08:00 UTC on the Friday before and at 09:00 UTC on the Monday after.
The practice's default search (14 days) spans the change at every sandbox practice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

import icalendar

from app.clock import LONDON
from tests.appointments.conftest import Adult
from tests.frozen import CLOCKS_GO_BACK, SUITE_NOW, SUITE_TODAY

FRIDAY_BEFORE = CLOCKS_GO_BACK - timedelta(days=2)
MONDAY_AFTER = CLOCKS_GO_BACK + timedelta(days=1)


def _session(name: str, first: time) -> set[tuple[str, time]]:
    """A sandbox session's eight slots of 15 minutes, in England's time."""
    start = datetime.combine(SUITE_TODAY, first)
    return {(name, (start + timedelta(minutes=15 * n)).time()) for n in range(8)}


SESSIONS = (
    _session("Morning surgery", time(8, 30))
    | _session("Nurse clinic", time(9, 0))
    | _session("Afternoon remote clinic", time(14, 0))
)


async def test_no_day_is_lost_or_doubled_and_times_stay_put_in_england(
    adult: Adult, ods_code: str
) -> None:
    patient = await adult(ods_code)
    practice = await patient.practice()
    slots = await patient.slots()
    by_day: dict[date, list[tuple[str, time]]] = defaultdict(list)
    for slot in slots:
        local = datetime.fromisoformat(slot["start"]).astimezone(LONDON)
        by_day[local.date()].append((slot["session"], local.time()))

    last = (SUITE_NOW + timedelta(days=practice["default_search_days"])).astimezone(LONDON)
    weekdays = [
        SUITE_TODAY + timedelta(days=n)
        for n in range((last.date() - SUITE_TODAY).days + 1)
        if (SUITE_TODAY + timedelta(days=n)).weekday() < 5
    ]
    assert FRIDAY_BEFORE in weekdays and MONDAY_AFTER in weekdays
    assert sorted(by_day) == weekdays
    for day, sessions in by_day.items():
        assert len(sessions) == len(set(sessions)), day
        assert set(sessions) <= SESSIONS, day
        # Every session's slots, less at most the one the seed booked that day.
        assert len(sessions) >= len(SESSIONS) - 1, day


async def test_a_slot_after_the_change_is_booked_and_shown_at_its_time(
    adult: Adult, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slots = await patient.slots()
    nine = {
        datetime.fromisoformat(slot["start"]).astimezone(LONDON).date(): slot
        for slot in slots
        if slot["session"] == "Nurse clinic"
        and datetime.fromisoformat(slot["start"]).astimezone(LONDON).time() == time(9, 0)
    }
    before, after = nine[FRIDAY_BEFORE], nine[MONDAY_AFTER]
    assert before["start"] == "2026-10-23T08:00:00Z"  # 09:00 BST
    assert after["start"] == "2026-10-26T09:00:00Z"  # 09:00 GMT
    assert after["end"] == "2026-10-26T09:15:00Z"
    assert datetime.fromisoformat(before["start"]).astimezone(LONDON).utcoffset() == timedelta(
        hours=1
    )
    assert datetime.fromisoformat(after["start"]).astimezone(LONDON).utcoffset() == timedelta(0)

    booked = await patient.book_ok(after)
    assert (booked["start"], booked["end"]) == (after["start"], after["end"])
    listed = {a["appointment_id"]: a for a in await patient.appointments()}
    assert listed[booked["appointment_id"]]["start"] == "2026-10-26T09:00:00Z"
    assert listed[booked["appointment_id"]]["cancellable"] is True

    response = await patient.get(f"/appointments/{booked['appointment_id']}/calendar.ics")
    event = next(iter(icalendar.Calendar.from_ical(response.content).walk("VEVENT")))
    start = event.decoded("dtstart")
    assert start == datetime.fromisoformat("2026-10-26T09:00:00+00:00")
    assert start.astimezone(LONDON).time() == time(9, 0)
