"""`GET …/appointments/{id}/calendar.ics`: an iCalendar event without the booking reason."""

from __future__ import annotations

from datetime import datetime

import icalendar

from tests.appointments.conftest import TPP, Adult

PRIVATE = "Worried about a lump"


async def test_the_calendar_event(adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    # TPP-like practices take no reason; elsewhere give one that must not leak.
    fields = {} if ods_code == TPP else {"reason": PRIVATE}
    slot = (await patient.later_slots(type="in_person"))[0]
    booked = await patient.book_ok(slot, **fields)
    if fields:
        assert booked["reason"] == PRIVATE

    response = await patient.get(f"/appointments/{booked['appointment_id']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    assert PRIVATE not in response.text
    assert "lump" not in response.text.lower()

    calendar = icalendar.Calendar.from_ical(response.content)
    assert calendar["version"] == "2.0"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == datetime.fromisoformat(booked["start"])
    assert event.decoded("dtend") == datetime.fromisoformat(booked["end"])
    assert str(event["location"]) == booked["location"]
    assert booked["clinician"]["name"] in str(event["description"])
    assert (await patient.practice())["name"] in str(event["summary"])
    assert str(event["uid"]).startswith(booked["appointment_id"])
    assert "status" not in event
    assert all(PRIVATE not in str(value) for value in event.values())


async def test_a_cancelled_appointment_is_marked_cancelled(adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    assert (
        await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    ).status_code == 200
    response = await patient.get(f"/appointments/{booked['appointment_id']}/calendar.ics")
    event = next(iter(icalendar.Calendar.from_ical(response.content).walk("VEVENT")))
    assert str(event["status"]) == "CANCELLED"


async def test_an_unknown_appointment_has_no_calendar(adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    response = await patient.get(f"/appointments/{ods_code}-A-nothere/calendar.ics")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
