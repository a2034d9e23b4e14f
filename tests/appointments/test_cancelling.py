"""Listing appointments with what may be done next, and cancelling future ones."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox.supplier import SimulatedSupplier
from app.audit.types import AuditAction
from tests.appointments.conftest import (
    EMIS,
    PRACTICES,
    TPP,
    VISION,
    Adult,
    account_id,
    audit_rows,
    move_to,
    resign,
)
from tests.conftest import FakeClock, SignIn

# --- listing --------------------------------------------------------------------------


async def test_upcoming_and_past_appointments(
    adult: Adult, client: httpx.AsyncClient, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    upcoming = await patient.appointments("upcoming")
    assert booked["appointment_id"] in {a["appointment_id"] for a in upcoming}
    starts = [a["start"] for a in upcoming]
    assert starts == sorted(starts)
    for item in upcoming:
        assert datetime.fromisoformat(item["end"]) > clock.now()
        assert item["cancellable"] is (item["not_cancellable_reason"] is None)

    past = await patient.appointments("past")
    # Seeded history: attended, missed and cancelled, newest first, none cancellable.
    assert {a["status"] for a in past} == {"attended", "did_not_attend", "cancelled"}
    assert [a["start"] for a in past] == sorted((a["start"] for a in past), reverse=True)
    for item in past:
        assert datetime.fromisoformat(item["end"]) <= clock.now()
        assert item["cancellable"] is False
        assert item["not_cancellable_reason"] == "not_booked"
    assert {a["appointment_id"] for a in past}.isdisjoint(a["appointment_id"] for a in upcoming)

    response = await patient.get("/appointments", when="tomorrow")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_the_list_says_why_an_appointment_cannot_be_cancelled(
    adult: Adult, sign_in: SignIn, clock: FakeClock
) -> None:
    patient = await adult(VISION)  # a 24 hour cut-off
    booked = await patient.book_ok()
    start = datetime.fromisoformat(booked["start"])
    move_to(clock, start - timedelta(hours=23))
    patient = await resign(patient, sign_in)
    item = next(
        a for a in await patient.appointments() if a["appointment_id"] == booked["appointment_id"]
    )
    assert (item["cancellable"], item["not_cancellable_reason"]) == (False, "too_late_to_cancel")
    move_to(clock, start + timedelta(minutes=5))
    patient = await resign(patient, sign_in)
    item = next(
        a for a in await patient.appointments() if a["appointment_id"] == booked["appointment_id"]
    )
    assert (item["cancellable"], item["not_cancellable_reason"]) == (False, "in_the_past")


# --- cancellation reasons ---------------------------------------------------------------

EXPECTED_REASONS = {
    EMIS: (True, ["1", "2", "3", "4"]),  # fixed by the system
    TPP: (False, []),  # none
    VISION: (True, ["CR1", "CR2", "CR3"]),  # configured by the practice
}


async def test_the_practices_cancellation_reasons(adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    response = await patient.get("/appointments/cancellation-reasons")
    assert response.status_code == 200
    body = response.json()
    required, codes = EXPECTED_REASONS[ods_code]
    assert body["required"] is required
    assert [item["code"] for item in body["items"]] == codes
    assert all(item["text"] for item in body["items"])
    assert (await patient.practice())["has_cancellation_reasons"] is required


# --- cancelling -------------------------------------------------------------------------


async def test_cancelling_a_future_appointment(app: FastAPI, adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    response = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["appointment_id"] == booked["appointment_id"]
    assert body["status"] == "cancelled"
    assert (body["cancellable"], body["not_cancellable_reason"]) == (False, "not_booked")
    # Still upcoming, marked cancelled: a future appointment the patient cancelled is not
    # in the past.
    upcoming = {a["appointment_id"]: a for a in await patient.appointments()}
    assert upcoming[booked["appointment_id"]]["status"] == "cancelled"
    past = await patient.appointments("past")
    assert booked["appointment_id"] not in {a["appointment_id"] for a in past}
    # The slot is free for someone else again.
    start = booked["start"]
    free = await patient.slots(
        **{"from": start, "to": (datetime.fromisoformat(start) + timedelta(minutes=1)).isoformat()}
    )
    assert [s["start"] for s in free] == [start]
    # Audited once, with who acted.
    rows = await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, booked["appointment_id"])
    assert [(r.actor_id, r.on_behalf) for r in rows] == [
        (await account_id(app, patient.user), False)
    ]

    # Cancelling again: nothing left to cancel.
    again = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    assert again.status_code == 409
    assert again.json()["code"] == "not_cancellable"
    assert (
        len(await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, booked["appointment_id"])) == 1
    )


async def test_of_two_cancels_at_once_the_loser_hears_what_a_second_cancel_hears(
    app: FastAPI, adult: Adult, ods_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    appointment_id = booked["appointment_id"]
    # Both cancels pass the service's own checks before either reaches the GP system,
    # which then takes exactly one of them.
    both_checked = asyncio.Barrier(2)
    cancel = SimulatedSupplier.cancel_appointment

    async def after_both_checked(self: SimulatedSupplier, *args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(30):
            await both_checked.wait()
        return await cancel(self, *args, **kwargs)

    monkeypatch.setattr(SimulatedSupplier, "cancel_appointment", after_both_checked)
    answers = await asyncio.gather(
        *(patient.cancel(appointment_id, **patient.cancel_body()) for _ in range(2))
    )

    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a.json() for a in answers if a.status_code == 409)
    again = (await patient.cancel(appointment_id, **patient.cancel_body())).json()
    assert (loser["code"], loser["detail"]) == (again["code"], again["detail"])
    assert loser["code"] == "not_cancellable"
    assert len(await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, appointment_id)) == 1


async def test_cancellation_reason_codes(app: FastAPI, adult: Adult, ods_code: str) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    appointment_id = booked["appointment_id"]
    if ods_code == TPP:
        refusals = [({"reason_code": "CR1"}, "cancellation_reason_not_used")]
    else:
        refusals = [
            ({}, "cancellation_reason_required"),
            ({"reason_code": None}, "cancellation_reason_required"),
            ({"reason_code": "NOPE"}, "unknown_cancellation_reason"),
            # Another supplier's code is not this practice's.
            ({"reason_code": "CR1" if ods_code == EMIS else "1"}, "unknown_cancellation_reason"),
        ]
    for body, code in refusals:
        response = await patient.cancel(appointment_id, **body)
        assert response.status_code == 422, body
        assert response.json()["code"] == code
    # Nothing was cancelled or audited by the refusals.
    assert appointment_id in {a["appointment_id"] for a in await patient.appointments()}
    assert await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, appointment_id) == []
    assert (await patient.cancel(appointment_id, **patient.cancel_body())).status_code == 200


async def test_past_appointments_cannot_be_cancelled(
    adult: Adult, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    attended = next(a for a in await patient.appointments("past") if a["status"] == "attended")
    response = await patient.cancel(attended["appointment_id"], **patient.cancel_body())
    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"

    booked = await patient.book_ok()
    move_to(clock, datetime.fromisoformat(booked["start"]) + timedelta(minutes=1))
    patient = await resign(patient, sign_in)
    response = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"


# Minutes before the start → whether an online cancellation is still allowed.
CUT_OFFS = {
    EMIS: [(5, True)],  # no cut-off at this practice
    TPP: [(30, False), (59, False), (61, True)],  # the system refuses within one hour
    VISION: [(23 * 60, False), (25 * 60, True)],  # the practice's 24 hour cut-off
}


async def test_the_cancellation_cut_off(
    app: FastAPI, adult: Adult, sign_in: SignIn, clock: FakeClock, ods_code: str
) -> None:
    patient = await adult(ods_code)
    booked = await patient.book_ok()
    start = datetime.fromisoformat(booked["start"])
    for minutes, allowed in CUT_OFFS[ods_code]:
        move_to(clock, start - timedelta(minutes=minutes))
        patient = await resign(patient, sign_in)
        response = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
        if allowed:
            assert response.status_code == 200, (minutes, response.text)
        else:
            assert response.status_code == 422, minutes
            assert response.json()["code"] == "too_late_to_cancel"
            assert (
                await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, booked["appointment_id"])
                == []
            )
    # The last step of each practice's plan cancels it.
    assert CUT_OFFS[ods_code][-1][1]


async def test_another_patients_appointment_is_not_found(adult: Adult, ods_code: str) -> None:
    owner = await adult(ods_code)
    booked = await owner.book_ok()
    stranger = await adult(PRACTICES[(PRACTICES.index(ods_code) + 1) % 3])
    appointment_id = booked["appointment_id"]
    for response in (
        await stranger.cancel(appointment_id, **owner.cancel_body()),
        await stranger.get(f"/appointments/{appointment_id}"),
        await stranger.get(f"/appointments/{appointment_id}/calendar.ics"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    # Nor through the owner's patient id with the stranger's session.
    response = await stranger.client.post(
        f"{owner.base}/appointments/{appointment_id}/cancel",
        json=owner.cancel_body(),
        headers=stranger.user.headers,
    )
    assert response.status_code == 404
    assert appointment_id in {a["appointment_id"] for a in await owner.appointments()}


async def test_a_parent_cancels_for_their_child(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    upcoming = await client.get(f"/v1/patients/{child}/appointments", headers=parent.headers)
    seeded = upcoming.json()["items"][0]
    assert seeded["cancellable"] is True
    response = await client.post(
        f"/v1/patients/{child}/appointments/{seeded['appointment_id']}/cancel",
        json={"reason_code": "3"},
        headers=parent.headers,
    )
    assert response.status_code == 200, response.text
    rows = await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED, seeded["appointment_id"])
    assert [(r.actor_id, r.patient_id, r.on_behalf) for r in rows] == [
        (await account_id(app, parent), child, True)
    ]
