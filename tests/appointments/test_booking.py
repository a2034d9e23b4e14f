"""`POST /v1/patients/{id}/appointments`: book a free slot, once, within the practice's rules."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from app.appointments.schemas import BookingIn
from app.audit.types import AuditAction
from tests.appointments.conftest import (
    ACCEPTED_REASON,
    EMIS,
    PRACTICES,
    TPP,
    VISION,
    Adult,
    Patient,
    account_id,
    audit_rows,
    move_to,
    new_key,
    resign,
)
from tests.conftest import FakeClock, SignIn

APPOINTMENT_FIELDS = {
    "appointment_id",
    "start",
    "end",
    "type",
    "clinician",
    "location",
    "status",
    "reason",
    "telephone_number",
    "cancellable",
    "not_cancellable_reason",
    "service_type",
    "schedule_type",
    "location_address",
    "clinician_gender",
}


async def test_booking_a_slot(
    adult: Adult, app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    before = await patient.appointments()
    slot = (await patient.later_slots())[0]
    reason = ACCEPTED_REASON[ods_code]
    response = await patient.book(slot["slot_id"], **({"reason": reason} if reason else {}))

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == APPOINTMENT_FIELDS
    assert {k: body[k] for k in ("start", "end", "type", "clinician", "location")} == {
        k: slot[k] for k in ("start", "end", "type", "clinician", "location")
    }
    assert body["status"] == "booked"
    assert body["reason"] == reason
    assert body["cancellable"] is True and body["not_cancellable_reason"] is None
    # The Location resolves to the same appointment.
    location = response.headers["location"]
    assert location == f"{patient.base}/appointments/{body['appointment_id']}"
    fetched = await client.get(location, headers=patient.user.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body
    # It is in the upcoming list, and the slot is no longer offered.
    after = await patient.appointments()
    assert [a["appointment_id"] for a in after] == sorted(
        [a["appointment_id"] for a in [*before, body]],
        key=lambda i: next(a["start"] for a in [*before, body] if a["appointment_id"] == i),
    )
    assert slot["slot_id"] not in {s["slot_id"] for s in await patient.slots()}
    # Audited once, with who acted.
    rows = await audit_rows(app, AuditAction.APPOINTMENT_BOOKED, body["appointment_id"])
    assert [(r.actor_id, r.patient_id, r.on_behalf) for r in rows] == [
        (await account_id(app, patient.user), patient.patient_id, False)
    ]


async def test_a_telephone_appointment_keeps_the_number_to_call(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.slots(type="telephone"))[0]
    booked = await patient.book_ok(slot, telephone_number="07700 900123")
    assert booked["type"] == "telephone"
    assert booked["telephone_number"] == "07700 900123"
    bad = await patient.book(slot["slot_id"], telephone_number="call me maybe")
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"


# Numbers the GP system could not store as given (too long, stray characters, digits
# of another script), or of a length no number has.
UNSTORABLE_NUMBERS = [
    "+970381 0-15 9  )50-6",
    "07700 900123)",
    "07700 900123 ext 4",
    "0770090012345678901",
    "\u0660\u0667\u0667\u0660\u0660 \u0669\u0660\u0660\u0661\u0662\u0663",
    "123",
]


@pytest.mark.parametrize(
    "number",
    [
        "07700 900123",
        "07700900123",
        "(0161) 496 0000",
        "0161-496-0000",
        "+44 (0)20 7946 0958",
        "+1 202-555-0143",
        "+33 1 23 45 67 89",
    ],
)
def test_telephone_numbers_as_people_write_them_are_taken_as_given(number: str) -> None:
    assert BookingIn(slot_id="s1", telephone_number=number).telephone_number == number


@pytest.mark.parametrize("number", UNSTORABLE_NUMBERS)
def test_a_telephone_number_that_is_not_one_is_refused(number: str) -> None:
    with pytest.raises(ValidationError):
        BookingIn(slot_id="s1", telephone_number=number)


async def test_a_telephone_number_the_gp_system_could_not_store_is_refused_before_booking(
    adult: Adult, app: FastAPI
) -> None:
    patient = await adult(EMIS)
    slot = (await patient.slots(type="telephone"))[0]
    calls = app.state.gp_registry.calls
    for number in UNSTORABLE_NUMBERS:
        before = calls.total
        response = await patient.book(
            slot["slot_id"], reason=ACCEPTED_REASON[EMIS], telephone_number=number
        )
        assert response.status_code == 422, (number, response.text)
        [error] = response.json()["errors"]
        assert error["field"] == "body.telephone_number"
        assert "07700 900123" in error["message"]  # says what a number looks like
        assert calls.total == before, number
    # UK numbers as people write them, and another country's, are booked as given.
    booked = await patient.book_ok(slot, telephone_number="+44 (0)161 496 0000")
    assert booked["telephone_number"] == "+44 (0)161 496 0000"


# What each practice answers to a booking with no reason and with a short one.
REASON_POLICY = {
    EMIS: ("mandatory", 150, "reason_required", None),
    TPP: ("not_requested", 200, None, "reason_not_requested"),
    VISION: ("optional", 250, None, None),
}


async def test_the_practice_booking_reason_policy(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    policy, max_length, without, with_reason = REASON_POLICY[ods_code]
    practice = await patient.practice()
    # Apps learn the policy in advance.
    assert (practice["booking_reason"], practice["booking_reason_max_length"]) == (
        policy,
        max_length,
    )
    slots = await patient.later_slots()

    response = await patient.book(slots[0]["slot_id"])
    if without is None:
        assert response.status_code == 201, response.text
        assert response.json()["reason"] is None
        # Cancelled again, to stay under the practice's booking limit.
        booked = response.json()["appointment_id"]
        assert (await patient.cancel(booked, **patient.cancel_body())).status_code == 200
    else:
        assert response.status_code == 422
        assert response.json()["code"] == without
        blank = await patient.book(slots[0]["slot_id"], reason="   ")
        assert (blank.status_code, blank.json()["code"]) == (422, without)

    response = await patient.book(slots[1]["slot_id"], reason="Chest pain when walking")
    if with_reason is None:
        assert response.status_code == 201, response.text
        assert response.json()["reason"] == "Chest pain when walking"
    else:
        assert response.status_code == 422
        assert response.json()["code"] == with_reason


async def test_a_reason_longer_than_the_practice_allows(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    max_length = (await patient.practice())["booking_reason_max_length"]
    slot = (await patient.slots())[0]
    response = await patient.book(slot["slot_id"], reason="x" * (max_length + 1))
    assert response.status_code == 422
    expected = "reason_not_requested" if ods_code == TPP else "reason_too_long"
    assert response.json()["code"] == expected
    assert str(max_length) in response.json()["detail"] or ods_code == TPP
    if ods_code != TPP:
        assert (await patient.book(slot["slot_id"], reason="x" * max_length)).status_code == 201


# Another patient with an account at each practice.
SOMEONE_ELSE = {EMIS: "proxy-parent", TPP: "historic-access", VISION: "enhanced-review"}


async def test_a_taken_slot_is_a_clean_409(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.slots())[0]
    # Someone else at the practice books it first.
    other = await sign_in(SOMEONE_ELSE[ods_code])
    reason = ACCEPTED_REASON[ods_code]
    with_reason = {"reason": reason} if reason else {}
    first = await client.post(
        f"/v1/patients/{other.patient_id()}/appointments",
        json={"slot_id": slot["slot_id"], **with_reason},
        headers={**other.headers, "Idempotency-Key": new_key()},
    )
    assert first.status_code == 201, first.text
    response = await patient.book(slot["slot_id"], **with_reason)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "slot_unavailable"


async def test_an_unknown_slot_says_so(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    reason = ACCEPTED_REASON[ods_code]
    response = await patient.book(
        f"{ods_code}-S000000000000-0", **({"reason": reason} if reason else {})
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "slot_not_found"
    assert "look at the free appointments again" in problem["detail"]


async def test_the_booking_limit(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    limit = (await patient.practice())["max_future_appointments"]
    slots = await patient.slots()
    already = len(await patient.appointments())
    assert already >= 1  # each adult-full persona has one seeded upcoming appointment
    for slot in slots[: limit - already]:
        await patient.book_ok(slot)
    assert len(await patient.appointments()) == limit
    reason = ACCEPTED_REASON[ods_code]
    response = await patient.book(
        slots[limit - already]["slot_id"], **({"reason": reason} if reason else {})
    )
    assert response.status_code == 409
    assert response.json()["code"] == "booking_limit_reached"
    assert len(await patient.appointments()) == limit


async def test_slots_outside_the_booking_window_cannot_be_booked(
    adult: Adult,
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_in: SignIn,
    clock: FakeClock,
    ods_code: str,
) -> None:
    patient = await adult(ods_code)
    days = (await patient.practice())["booking_window_days"]
    # The search never offers them; ask the practice's GP system directly.
    system = app.state.gp_registry.for_practice(ods_code)
    beyond = clock.now() + timedelta(days=days, hours=1)
    # The sandbox's free slots are the practice's, whoever asks.
    too_far = (await system.search_slots(beyond, beyond + timedelta(days=7), patient_ref="anyone"))[
        0
    ]
    reason = ACCEPTED_REASON[ods_code]
    with_reason = {"reason": reason} if reason else {}
    response = await patient.book(too_far.slot_id, **with_reason)
    assert response.status_code == 422
    assert response.json()["code"] == "outside_booking_window"

    # Nor can a slot that has started.
    slot = (await patient.slots())[0]
    move_to(clock, datetime.fromisoformat(slot["start"]) + timedelta(seconds=1))
    patient = await resign(patient, sign_in)
    response = await patient.book(slot["slot_id"], **with_reason)
    assert response.status_code == 422
    assert response.json()["code"] == "outside_booking_window"


async def test_body_and_headers_are_validated(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.slots())[0]
    no_key = await client.post(
        f"{patient.base}/appointments",
        json={"slot_id": slot["slot_id"]},
        headers=patient.user.headers,
    )
    assert no_key.status_code == 422
    assert no_key.json()["errors"][0]["field"] == "header.Idempotency-Key"
    for body in ({}, {"slot_id": ""}, {"slot_id": slot["slot_id"], "urgent": True}):
        response = await client.post(
            f"{patient.base}/appointments",
            json=body,
            headers={**patient.user.headers, "Idempotency-Key": new_key()},
        )
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"


# --- idempotency -----------------------------------------------------------------


async def test_a_retry_with_the_same_key_returns_the_first_result(
    adult: Adult, app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.slots())[0]
    reason = ACCEPTED_REASON[ods_code]
    fields = {"reason": reason} if reason else {}
    key = new_key()
    first = await patient.book(slot["slot_id"], key=key, **fields)
    assert first.status_code == 201
    count = len(await patient.appointments())
    again = await patient.book(slot["slot_id"], key=key, **fields)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert len(await patient.appointments()) == count
    booked = await audit_rows(app, AuditAction.APPOINTMENT_BOOKED, first.json()["appointment_id"])
    assert len(booked) == 1

    # The same key for a different request is refused, and books nothing.
    other = (await patient.slots())[0]
    reused = await patient.book(other["slot_id"], key=key, **fields)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert len(await patient.appointments()) == count


async def test_a_refusal_is_replayed_too(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.later_slots())[0]
    await patient.book_ok(slot)
    reason = ACCEPTED_REASON[ods_code]
    fields = {"reason": reason} if reason else {}
    key = new_key()
    first = await patient.book(slot["slot_id"], key=key, **fields)
    assert first.status_code == 409
    # Even once the slot is free again, the retry gets the first answer.
    booked = await patient.appointments()
    mine = next(a for a in booked if a["start"] == slot["start"])
    assert (
        await patient.cancel(mine["appointment_id"], **patient.cancel_body())
    ).status_code == 200
    again = await patient.book(slot["slot_id"], key=key, **fields)
    assert (again.status_code, again.json()) == (409, first.json())


async def test_concurrent_retries_book_once(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    slot = (await patient.slots())[0]
    reason = ACCEPTED_REASON[ods_code]
    fields = {"reason": reason} if reason else {}
    count = len(await patient.appointments())
    key = new_key()
    answers = await asyncio.gather(
        *(patient.book(slot["slot_id"], key=key, **fields) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    assert len(await patient.appointments()) == count + 1


async def test_keys_belong_to_the_account(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    # Two people using the same key do not see each other's answers.
    first, second = [await adult(ods) for ods in (VISION, TPP)]
    key = new_key()
    one = await first.book((await first.slots())[0]["slot_id"], key=key)
    two = await second.book((await second.slots())[0]["slot_id"], key=key)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["appointment_id"] != two.json()["appointment_id"]


# --- proxies ---------------------------------------------------------------------


async def test_a_parent_books_for_their_child(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    headers = {**parent.headers, "Idempotency-Key": new_key()}
    slots = (await client.get(f"/v1/patients/{child}/slots", headers=parent.headers)).json()
    response = await client.post(
        f"/v1/patients/{child}/appointments",
        json={"slot_id": slots["items"][0]["slot_id"], "reason": "Earache again"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    rows = await audit_rows(app, AuditAction.APPOINTMENT_BOOKED, response.json()["appointment_id"])
    assert [(r.actor_id, r.patient_id, r.on_behalf) for r in rows] == [
        (await account_id(app, parent), child, True)
    ]


async def test_a_carer_without_the_appointments_permission_cannot_book(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    carer = await sign_in("carer")
    resident = carer.acts_for("care-home-resident")
    own = await client.get(f"/v1/patients/{carer.patient_id()}/slots", headers=carer.headers)
    slot_id = own.json()["items"][0]["slot_id"]
    for response in (
        await client.post(
            f"/v1/patients/{resident}/appointments",
            json={"slot_id": slot_id},
            headers={**carer.headers, "Idempotency-Key": new_key()},
        ),
        await client.get(f"/v1/patients/{resident}/appointments", headers=carer.headers),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "service_not_permitted"


@pytest.mark.parametrize("ods_code", PRACTICES)
async def test_another_patients_id_is_not_found(
    adult: Adult, client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    patient = await adult(ods_code)
    stranger = await sign_in("proxy-parent")
    response = await client.post(
        f"{patient.base}/appointments",
        json={"slot_id": (await patient.slots())[0]["slot_id"], "reason": "x"},
        headers={**stranger.headers, "Idempotency-Key": new_key()},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"


async def test_a_key_used_for_one_patient_does_not_replay_for_another(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    """A parent's key is scoped to the patient: reusing it for themself is not a replay of
    the child's booking (which would show the child's appointment as their own)."""
    parent = await sign_in("proxy-parent")
    for_child = Patient(client, parent, "A81001", parent.acts_for("child-under-11"), clock)
    for_self = Patient(client, parent, "A81001", parent.patient_id(), clock)
    slots = await for_child.later_slots()
    key = new_key()

    child_booking = await for_child.book(slots[0]["slot_id"], key=key, reason="Earache")
    own_booking = await for_self.book(slots[0]["slot_id"], key=key, reason="Earache")

    assert child_booking.status_code == 201
    assert own_booking.status_code == 422
    assert own_booking.json()["code"] == "idempotency_key_reused"
    assert child_booking.json()["appointment_id"] not in own_booking.text
