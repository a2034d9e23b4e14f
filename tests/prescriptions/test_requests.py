"""Ordering repeats, following requests and cancelling them, on every supplier profile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI

from app.adapters.sandbox.supplier import SimulatedSupplier
from app.audit.types import AuditAction
from tests.appointments.conftest import audit_rows
from tests.prescriptions.conftest import EMIS, NOTE, TPP, VISION, MakeOrderer, Orderer, new_key


async def test_ordering_a_repeat(orderer: MakeOrderer, ods_code: str, app: FastAPI) -> None:
    patient = await orderer("adult-full", ods_code)
    courses = await patient.courses()
    wanted = [courses["Amlodipine"]["course_id"], courses["Sertraline"]["course_id"]]

    response = await patient.order(wanted)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "requested"
    assert body["requested_by"] == "you"
    assert body["note"] == NOTE[ods_code]
    assert [(i["course_id"], i["name"], i["status"]) for i in body["items"]] == [
        (courses["Amlodipine"]["course_id"], courses["Amlodipine"]["name"], "requested"),
        (courses["Sertraline"]["course_id"], courses["Sertraline"]["name"], "requested"),
    ]
    assert response.headers["Location"].endswith(f"/prescriptions/requests/{body['request_id']}")
    found = await patient.client.get(response.headers["Location"], headers=patient.user.headers)
    assert found.json() == body
    # Newest first, and now pending.
    assert (await patient.requests())[0]["request_id"] == body["request_id"]
    after = await patient.courses()
    assert after["Amlodipine"]["reason"] == after["Sertraline"]["reason"] == "request_pending"
    # One audit row, naming only the request.
    rows = await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, body["request_id"])
    assert len(rows) == 1
    assert rows[0].patient_id == patient.patient_id and not rows[0].on_behalf


@pytest.mark.parametrize(
    ("course", "code", "status"),
    [
        ("Atorvastatin", "request_pending", 409),
        ("Omeprazole", "review_overdue", 409),
        ("Salbutamol", "too_soon", 409),
    ],
)
async def test_a_course_that_cannot_be_ordered_orders_nothing(
    orderer: MakeOrderer, ods_code: str, course: str, code: str, status: int
) -> None:
    patient = await orderer("adult-full", ods_code)
    courses = await patient.courses()
    before = await patient.requests()
    # With an orderable one beside it: the whole request is refused, not half made.
    wanted = [courses["Amlodipine"]["course_id"], courses[course]["course_id"]]

    response = await patient.order(wanted)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["code"], problem["reason"]) == (code, code)
    assert problem["course_id"] == courses[course]["course_id"]
    assert problem["detail"].endswith(".")
    assert await patient.requests() == before


async def test_unknown_and_other_patients_courses_are_named(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    other = await orderer("adult-full", TPP)
    mine = (await patient.courses())["Amlodipine"]["course_id"]
    theirs = (await other.courses())["Amlodipine"]["course_id"]

    response = await patient.order([mine, theirs, "made-up"])

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "unknown_course"
    assert problem["course_ids"] == [theirs, "made-up"]
    assert (await patient.courses())["Amlodipine"]["orderable"] is True


async def test_an_acute_course_is_not_a_repeat(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    acute = patient.shown_course(patient.gp_course(5))  # the seeded Amoxicillin course

    response = await patient.order([acute])

    assert response.status_code == 409
    assert response.json()["code"] == "not_a_repeat"


async def test_the_practices_item_limit(orderer: MakeOrderer) -> None:
    # The TPP-like practice accepts four items in one request.
    patient = await orderer("adult-full", TPP)
    practice = (await patient.get("/practice")).json()
    assert practice["max_prescription_items"] == 4
    ids = [patient.shown_course(patient.gp_course(n)) for n in range(1, 6)]

    response = await patient.order(ids)

    assert response.status_code == 422
    assert response.json()["code"] == "too_many_items"
    assert "4 medicines" in response.json()["detail"]


async def test_the_practices_note_policy(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", VISION)
    practice = (await patient.get("/practice")).json()
    assert practice["prescription_note_required"] is True
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]

    missing = await patient.order([amlodipine], note="   ")
    too_long = await patient.order(
        [amlodipine], note="x" * (practice["prescription_note_max_length"] + 1)
    )

    assert (missing.status_code, missing.json()["code"]) == (422, "note_required")
    assert (too_long.status_code, too_long.json()["code"]) == (422, "note_too_long")
    longest = await patient.order([amlodipine], note="x" * practice["prescription_note_max_length"])
    assert longest.status_code == 201


async def test_a_note_is_optional_where_the_practice_does_not_ask(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    assert (await patient.get("/practice")).json()["prescription_note_required"] is False
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    response = await patient.order([amlodipine])
    assert response.status_code == 201
    assert response.json()["note"] is None


async def test_a_replay_returns_the_first_answer_and_orders_once(
    orderer: MakeOrderer, ods_code: str, app: FastAPI
) -> None:
    patient = await orderer("adult-full", ods_code)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    key = new_key()

    first = await patient.order([amlodipine], key=key)
    again = await patient.order([amlodipine], key=key)
    other_body = await patient.order([amlodipine], key=key, note="A different note")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    assert len(await pending_for(patient, amlodipine)) == 1
    rows = await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, first.json()["request_id"])
    assert len(rows) == 1


async def test_a_refusal_is_replayed_too(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    omeprazole = (await patient.courses())["Omeprazole"]["course_id"]
    key = new_key()
    first = await patient.order([omeprazole], key=key)
    again = await patient.order([omeprazole], key=key)
    assert first.status_code == again.status_code == 409
    assert again.json()["code"] == first.json()["code"] == "review_overdue"


async def test_two_requests_for_one_course_at_once_order_it_once(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]

    answers = await asyncio.gather(
        patient.order([amlodipine], key=new_key()), patient.order([amlodipine], key=new_key())
    )

    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["code"] == "request_pending"
    assert len(await pending_for(patient, amlodipine)) == 1


async def pending_for(patient: Orderer, course_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in await patient.requests()
        if r["status"] == "requested" and course_id in {i["course_id"] for i in r["items"]}
    ]


# --- the list ----------------------------------------------------------------------------


async def test_requests_show_each_status_and_the_practices_reason(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)
    requests = await patient.requests()

    assert {r["status"] for r in requests} == {"requested", "approved", "rejected", "issued"}
    times = [r["requested_at"] for r in requests]
    assert times == sorted(times, reverse=True)
    rejected = next(r for r in requests if r["status"] == "rejected")
    assert rejected["items"][0]["status"] == "rejected"
    assert "review" in rejected["items"][0]["rejection_reason"]
    assert all(r["requested_by"] == "you" for r in requests)
    assert all(item["name"] for r in requests for item in r["items"])


async def test_paging_shows_every_request_once(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    assert (await patient.order([amlodipine])).status_code == 201
    everything = [r["request_id"] for r in await patient.requests()]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await patient.get("/prescriptions/requests", **params)).json()
        assert len(page["items"]) <= 2
        seen.extend(r["request_id"] for r in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == everything
    # Five seeded requests that may be shown (a sixth holds only a withheld medicine), and
    # the one just made.
    assert len(seen) == 6
    bad = await patient.get("/prescriptions/requests", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")


async def test_another_patients_request_is_not_found(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    other = await orderer("adult-full", VISION)
    theirs = (await other.requests())[0]["request_id"]

    found = await patient.get(f"/prescriptions/requests/{theirs}")
    cancelled = await patient.cancel(theirs)

    assert (found.status_code, found.json()["code"]) == (404, "not_found")
    assert cancelled.status_code == 404
    assert theirs not in found.text


# --- cancelling ---------------------------------------------------------------------------


async def test_cancelling_a_request_still_being_dealt_with(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    for ods_code in (EMIS, VISION):
        patient = await orderer("adult-full", ods_code)
        amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
        made = (await patient.order([amlodipine])).json()
        assert (made["cancellable"], made["not_cancellable_reason"]) == (True, None)

        response = await patient.cancel(made["request_id"])

        assert response.status_code == 200, response.text
        cancelled = response.json()
        # Said plainly: the one who just cancelled it is not told the practice dealt with it.
        assert (cancelled["status"], cancelled["cancellable"]) == ("cancelled", False)
        assert cancelled["not_cancellable_reason"] == "already_cancelled"
        listed = next(r for r in await patient.requests() if r["request_id"] == made["request_id"])
        assert listed["not_cancellable_reason"] == "already_cancelled"
        assert (await patient.courses())["Amlodipine"]["orderable"] is True
        rows = await audit_rows(app, AuditAction.PRESCRIPTION_REQUEST_CANCELLED, made["request_id"])
        assert len(rows) == 1
        again = await patient.cancel(made["request_id"])
        assert (again.status_code, again.json()["code"]) == (409, "request_not_cancellable")


async def test_of_two_cancels_at_once_the_loser_hears_what_a_second_cancel_hears(
    orderer: MakeOrderer, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = await orderer("adult-full", EMIS)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    made = (await patient.order([amlodipine])).json()
    # Both cancels pass the service's own check before either reaches the GP system, which
    # then takes exactly one of them.
    both_checked = asyncio.Barrier(2)
    cancel = SimulatedSupplier.cancel_prescription_request

    async def after_both_checked(self: SimulatedSupplier, *args: Any, **kwargs: Any) -> Any:
        async with asyncio.timeout(30):
            await both_checked.wait()
        return await cancel(self, *args, **kwargs)

    monkeypatch.setattr(SimulatedSupplier, "cancel_prescription_request", after_both_checked)
    answers = await asyncio.gather(*(patient.cancel(made["request_id"]) for _ in range(2)))

    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a.json() for a in answers if a.status_code == 409)
    again = (await patient.cancel(made["request_id"])).json()
    assert (loser["code"], loser["detail"]) == (again["code"], again["detail"])
    assert loser["code"] == "request_not_cancellable"
    rows = await audit_rows(app, AuditAction.PRESCRIPTION_REQUEST_CANCELLED, made["request_id"])
    assert len(rows) == 1


async def test_a_request_already_dealt_with_cannot_be_cancelled(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    approved = next(r for r in await patient.requests() if r["status"] == "approved")
    assert (approved["cancellable"], approved["not_cancellable_reason"]) == (
        False,
        "already_processed",
    )
    response = await patient.cancel(approved["request_id"])
    assert (response.status_code, response.json()["code"]) == (409, "request_not_cancellable")


async def test_where_the_gp_system_cannot_cancel_the_request_says_so(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    patient = await orderer("adult-full", TPP)
    pending = next(r for r in await patient.requests() if r["status"] == "requested")
    assert (pending["cancellable"], pending["not_cancellable_reason"]) == (
        False,
        "not_offered_by_practice",
    )

    response = await patient.cancel(pending["request_id"])

    assert response.status_code == 403
    problem = response.json()
    assert (problem["code"], problem["capability"]) == (
        "not_available_at_practice",
        "cancel_prescription_request",
    )
    assert "contact your practice" in problem["detail"]
    assert not await audit_rows(
        app, AuditAction.PRESCRIPTION_REQUEST_CANCELLED, pending["request_id"]
    )
