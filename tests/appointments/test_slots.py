"""`GET /v1/patients/{id}/slots`: free slots within the practice's booking window."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.clock import on_englands_clock
from tests.appointments.conftest import Adult
from tests.conftest import FakeClock, SignIn

TYPES = {"in_person", "telephone", "video"}


async def test_default_search_is_the_practices_usual_window(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    practice = await patient.practice()
    response = await patient.get("/slots")
    assert response.status_code == 200
    body = response.json()
    start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
    assert start == clock.now()
    # The same time of day, that many days later, on England's clock.
    assert end == on_englands_clock(start, timedelta(days=practice["default_search_days"]))
    items = body["items"]
    assert items, "the sandbox has free slots in the next weeks"
    starts = [datetime.fromisoformat(item["start"]) for item in items]
    assert starts == sorted(starts)
    assert all(start <= s < end for s in starts)
    assert {item["type"] for item in items} == TYPES
    for item in items:
        assert set(item) == {
            "slot_id",
            "start",
            "end",
            "type",
            "clinician",
            "location",
            "session",
            "slot_type",
            "schedule_type",
        }
        assert datetime.fromisoformat(item["end"]) > datetime.fromisoformat(item["start"])
        assert item["clinician"]["name"] and item["clinician"]["role"]
        assert item["location"] and item["session"]


async def test_an_explicit_range_up_to_the_practice_maximum(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    window = timedelta(days=(await patient.practice())["booking_window_days"])
    start = clock.now() + window - timedelta(days=7)
    end = clock.now() + window
    items = await patient.slots(**{"from": start.isoformat(), "to": end.isoformat()})
    assert items
    assert all(start <= datetime.fromisoformat(i["start"]) < end for i in items)


async def test_filters_by_type_and_clinician(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    everything = await patient.slots()
    for kind in TYPES:
        only = await patient.slots(type=kind)
        assert only
        assert {item["type"] for item in only} == {kind}
        assert {i["slot_id"] for i in only} == {
            i["slot_id"] for i in everything if i["type"] == kind
        }
    name = everything[0]["clinician"]["name"]
    theirs = await patient.slots(clinician=name)
    assert theirs and len(theirs) < len(everything)
    assert {item["clinician"]["name"] for item in theirs} == {name}
    both = await patient.slots(clinician=name, type=everything[0]["type"])
    assert {(i["clinician"]["name"], i["type"]) for i in both} == {(name, everything[0]["type"])}
    assert await patient.slots(clinician="Dr Nobody Here") == []
    # The filter is "name contains", whatever the case.
    surname = name.split()[-1].lower()
    assert {i["clinician"]["name"] for i in await patient.slots(clinician=surname)} == {name}
    assert await patient.slots(clinician="%") == []


async def test_a_range_beyond_the_practice_maximum_is_refused(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    days = (await patient.practice())["booking_window_days"]
    too_far = on_englands_clock(clock.now(), timedelta(days=days)) + timedelta(seconds=1)
    too_far = too_far.isoformat()
    for params in ({"to": too_far}, {"from": too_far}):
        response = await patient.get("/slots", **params)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "outside_booking_window"
        assert str(days) in body["detail"]


async def test_an_end_before_the_start_is_refused(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    start = clock.now() + timedelta(days=5)
    for end in (start - timedelta(days=1), start):
        response = await patient.get("/slots", **{"from": start.isoformat(), "to": end.isoformat()})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_range"


async def test_a_range_wholly_in_the_past_is_refused(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    start, end = clock.now() - timedelta(days=3), clock.now() - timedelta(days=1)
    response = await patient.get("/slots", **{"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 422
    assert response.json()["code"] == "outside_booking_window"


async def test_times_without_an_offset_are_read_as_uk_local_time(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    start = (clock.now() + timedelta(days=2)).replace(tzinfo=None)
    response = await patient.get("/slots", **{"from": start.isoformat()})
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["start"]).utcoffset() is not None


async def test_bad_filters_are_validation_problems(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    for params in ({"type": "home_visit"}, {"from": "next tuesday"}, {"clinician": "x" * 101}):
        response = await patient.get("/slots", **params)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"


async def test_slots_need_a_session_and_the_patients_own_id(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    assert (await client.get(f"{patient.base}/slots")).status_code == 401
    stranger = await sign_in("proxy-parent")
    response = await client.get(f"{patient.base}/slots", headers=stranger.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"


async def test_slots_come_in_pages_that_never_split_a_start_time(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    everything = await patient.slots()
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": 25}
    while True:
        body = (await patient.get("/slots", **params)).json()
        assert 0 < len(body["items"]) <= 25
        pages.append(body["items"])
        if body["next_from"] is None:
            break
        assert body["next_from"] > body["items"][-1]["start"]
        params = {"limit": 25, "from": body["next_from"], "to": body["end"]}
    assert [i["slot_id"] for page in pages for i in page] == [i["slot_id"] for i in everything]
    for earlier, later in itertools.pairwise(pages):
        assert earlier[-1]["start"] < later[0]["start"]
    first = (await patient.get("/slots")).json()["items"]
    # 100 to a page, fewer where the 100th slot starts at the same time as the 101st.
    cut = everything[100]["start"] if len(everything) > 100 else None
    expected = [s["slot_id"] for s in everything[:100] if cut is None or s["start"] < cut]
    assert [s["slot_id"] for s in first] == expected
