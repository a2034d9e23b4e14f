"""What the HTTP API writes to the audit trail, and what a patient is shown of it.

Signing in and out, booking and cancelling each write exactly one row saying who
acted, for whom and how they are related; refusals and idempotent replays write
no "succeeded" row; `GET /v1/patients/{patient_id}/access-log` shows the patient
their part of it; and rows written by the API form a chain that `verify_chain`
checks.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from app.audit.chain import ChainProblem, verify_chain
from app.audit.models import AuditRecord
from app.audit.service import record
from app.audit.types import AuditAction, AuditEvent, AuditOutcome
from app.auth.models import Account
from app.gp.types import RelationshipKind
from app.problems import REQUEST_ID_HEADER
from tests.conftest import FakeClock, SignedInUser, SignIn

# --- reading the trail -------------------------------------------------------------------


async def audit_rows(app: FastAPI, *actions: AuditAction) -> list[AuditRecord]:
    """Every row (of these actions), oldest first."""
    query = select(AuditRecord).order_by(AuditRecord.sequence)
    if actions:
        query = query.where(AuditRecord.action.in_(actions))
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(query)).all())


async def account_id(app: FastAPI, user: SignedInUser) -> str:
    async with app.state.sessionmaker() as session:
        found = await session.scalar(
            select(Account.id).where(Account.nhs_login_sub == user.persona.nhs_login_claims["sub"])
        )
    assert found is not None
    return found


# --- acting through the API ----------------------------------------------------------------


def with_key(user: SignedInUser, key: str | None = None) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key or f"audit-{uuid.uuid4().hex}"}


async def practice_policy(
    client: httpx.AsyncClient, user: SignedInUser, patient: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/patients/{patient}/practice", headers=user.headers)
    assert response.status_code == 200, response.text
    policy: dict[str, Any] = response.json()
    return policy


async def booking_for_a_free_slot(
    client: httpx.AsyncClient, user: SignedInUser, patient: str
) -> dict[str, str]:
    """A valid booking body: the latest free slot (well clear of any cancellation cut-off)."""
    response = await client.get(f"/v1/patients/{patient}/slots", headers=user.headers)
    assert response.status_code == 200, response.text
    slots = response.json()["items"]
    assert slots, "the sandbox should offer free slots"
    body = {"slot_id": slots[-1]["slot_id"]}
    if (await practice_policy(client, user, patient))["booking_reason"] == "mandatory":
        body["reason"] = "Follow-up about a cough"
    return body


async def book(
    client: httpx.AsyncClient, user: SignedInUser, patient: str, key: str | None = None
) -> httpx.Response:
    body = await booking_for_a_free_slot(client, user, patient)
    return await client.post(
        f"/v1/patients/{patient}/appointments", headers=with_key(user, key), json=body
    )


async def cancel(
    client: httpx.AsyncClient, user: SignedInUser, patient: str, appointment_id: str
) -> httpx.Response:
    body: dict[str, str] = {}
    if (await practice_policy(client, user, patient))["has_cancellation_reasons"]:
        reasons = await client.get(
            f"/v1/patients/{patient}/appointments/cancellation-reasons", headers=user.headers
        )
        body["reason_code"] = reasons.json()["items"][0]["code"]
    return await client.post(
        f"/v1/patients/{patient}/appointments/{appointment_id}/cancel",
        headers=user.headers,
        json=body,
    )


# --- signing in and out ------------------------------------------------------------------


async def test_each_sign_in_writes_one_sign_in_row(app: FastAPI, sign_in: SignIn) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    actor = await account_id(app, user)

    [row] = await audit_rows(app)
    assert row.action is AuditAction.SIGN_IN
    assert row.actor_id == actor
    assert row.patient_id is None
    assert (row.on_behalf, row.relationship_kind, row.target) == (False, None, None)
    assert row.outcome is AuditOutcome.SUCCEEDED

    await sign_in("adult-full", ods_code="A81001")  # a second session, a second row
    assert [(r.action, r.actor_id) for r in await audit_rows(app)] == [
        (AuditAction.SIGN_IN, actor),
        (AuditAction.SIGN_IN, actor),
    ]


async def test_signing_out_writes_one_sign_out_row(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    response = await client.post("/v1/auth/logout", headers=user.headers)
    assert response.status_code == 204

    [row] = await audit_rows(app, AuditAction.SIGN_OUT)
    assert row.actor_id == await account_id(app, user)
    assert row.patient_id is None
    assert row.outcome is AuditOutcome.SUCCEEDED
    assert row.request_id == response.headers[REQUEST_ID_HEADER]

    # Signing out again with the revoked token is fine, and there is nothing more to record.
    assert (await client.post("/v1/auth/logout", headers=user.headers)).status_code == 204
    assert len(await audit_rows(app, AuditAction.SIGN_OUT)) == 1


# --- booking and cancelling ----------------------------------------------------------------


async def test_booking_for_oneself_writes_one_row_and_a_replay_writes_none(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    patient = user.patient_id()
    key = f"audit-{uuid.uuid4().hex}"
    body = await booking_for_a_free_slot(client, user, patient)
    url = f"/v1/patients/{patient}/appointments"

    first = await client.post(url, headers=with_key(user, key), json=body)
    assert first.status_code == 201, first.text
    replay = await client.post(url, headers=with_key(user, key), json=body)
    assert replay.status_code == 201
    assert replay.json() == first.json()

    [row] = await audit_rows(app, AuditAction.APPOINTMENT_BOOKED)
    assert row.actor_id == await account_id(app, user)
    assert row.patient_id == patient
    assert row.on_behalf is False
    assert row.relationship_kind is RelationshipKind.SELF
    assert row.target == first.json()["appointment_id"]
    assert row.outcome is AuditOutcome.SUCCEEDED
    assert row.request_id == first.headers[REQUEST_ID_HEADER]


async def test_a_parent_booking_for_their_child_is_recorded_as_acting_on_behalf(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")

    response = await book(client, parent, child)
    assert response.status_code == 201, response.text

    [row] = await audit_rows(app, AuditAction.APPOINTMENT_BOOKED)
    assert row.actor_id == await account_id(app, parent)
    assert row.patient_id == child
    assert row.on_behalf is True
    assert row.relationship_kind is RelationshipKind.PARENT
    assert row.target == response.json()["appointment_id"]
    assert row.outcome is AuditOutcome.SUCCEEDED


async def test_cancelling_writes_one_row(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    booked = await book(client, parent, child)
    appointment_id = booked.json()["appointment_id"]

    cancelled = await cancel(client, parent, child, appointment_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    # Cancelling again is refused (nothing is booked) and records nothing more.
    again = await cancel(client, parent, child, appointment_id)
    assert again.status_code == 409, again.text

    [row] = await audit_rows(app, AuditAction.APPOINTMENT_CANCELLED)
    assert row.actor_id == await account_id(app, parent)
    assert (row.patient_id, row.target) == (child, appointment_id)
    assert (row.on_behalf, row.relationship_kind) == (True, RelationshipKind.PARENT)
    assert row.outcome is AuditOutcome.SUCCEEDED


async def test_refused_actions_write_no_succeeded_row(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    patient = await sign_in("adult-full", ods_code="A81001")
    parent = await sign_in("proxy-parent")
    carer = await sign_in("carer")
    mother = await sign_in("parent-of-16")
    unverified = await sign_in("p5-identity")
    own, child = patient.patient_id(), parent.acts_for("child-under-11")
    resident, teen = carer.acts_for("care-home-resident"), mother.acts_for("age-16-proxied")
    taken = await booking_for_a_free_slot(client, patient, own)
    booked = await client.post(
        f"/v1/patients/{own}/appointments", headers=with_key(patient), json=taken
    )
    assert booked.status_code == 201, booked.text
    theirs = booked.json()["appointment_id"]
    free = await booking_for_a_free_slot(client, parent, child)
    rows_before = await audit_rows(app)

    async def post(user: SignedInUser, patient_id: str, path: str, body: Any) -> int:
        response = await client.post(
            f"/v1/patients/{patient_id}{path}", headers=with_key(user), json=body
        )
        return response.status_code

    statuses = {
        "not granted": await post(carer, resident, "/appointments", free),
        "suspended at 16": await post(mother, teen, "/appointments", free),
        "identity not verified": await post(
            unverified, unverified.patient_id(), "/appointments", free
        ),
        "another patient": await post(parent, own, "/appointments", free),
        "no reason given": await post(parent, child, "/appointments", {"slot_id": free["slot_id"]}),
        "slot taken": await post(parent, child, "/appointments", taken),
        "unknown appointment": await post(patient, own, "/appointments/no-such-one/cancel", {}),
        "another's appointment": await post(parent, child, f"/appointments/{theirs}/cancel", {}),
    }
    assert statuses == {
        "not granted": 403,
        "suspended at 16": 403,
        "identity not verified": 403,
        "another patient": 404,
        "no reason given": 422,
        "slot taken": 409,
        "unknown appointment": 404,
        "another's appointment": 404,
    }
    rows_after = await audit_rows(app)
    # Nothing earlier was touched, and whatever a refusal wrote is not a success.
    assert [r.hash for r in rows_after[: len(rows_before)]] == [r.hash for r in rows_before]
    refused_rows = rows_after[len(rows_before) :]
    assert [
        (r.action, r.outcome) for r in refused_rows if r.outcome is not AuditOutcome.REFUSED
    ] == []


# --- "who has viewed or acted on my record" --------------------------------------------------


async def test_the_patient_sees_their_log_newest_first_in_pages(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    teen = await sign_in("age-16-proxied")
    mother = await sign_in("parent-of-16")
    other = await sign_in("adult-full", ods_code="A81001")
    own = teen.patient_id()
    # Her mother booked for her before she turned 16. Parental access is suspended now,
    # so that entry cannot be made through the API today: it is written as it was then.
    async with app.state.sessionmaker() as session:
        await record(
            session,
            AuditEvent(
                action=AuditAction.APPOINTMENT_BOOKED,
                actor_id=await account_id(app, mother),
                patient_id=own,
                on_behalf=True,
                relationship_kind=RelationshipKind.PARENT,
                target="C83003-earlier-booking",
            ),
            clock=clock,
        )
        await session.commit()
    clock.advance(timedelta(minutes=1))
    first = (await book(client, teen, own)).json()["appointment_id"]
    clock.advance(timedelta(minutes=1))
    assert (await book(client, other, other.patient_id())).status_code == 201  # not hers
    clock.advance(timedelta(minutes=1))
    assert (await cancel(client, teen, own, first)).status_code == 200
    clock.advance(timedelta(minutes=1))
    second = (await book(client, teen, own)).json()["appointment_id"]

    url = f"/v1/patients/{own}/access-log"
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, headers=teen.headers, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert [[(e["action"], e["target"]) for e in page] for page in pages] == [
        [("appointment_booked", second), ("appointment_cancelled", first)],
        [("appointment_booked", first), ("appointment_booked", "C83003-earlier-booking")],
    ]
    entries = [entry for page in pages for entry in page]
    assert [(e["by"], e["relationship"]) for e in entries] == [
        ("patient", None),
        ("patient", None),
        ("patient", None),
        ("proxy", "parent"),
    ]
    assert {entry["outcome"] for entry in entries} == {"succeeded"}
    times = [entry["occurred_at"] for entry in entries]
    assert times == sorted(times, reverse=True)
    # One page of everything says the same, and names nobody.
    everything = await client.get(url, headers=teen.headers)
    assert everything.json() == {"items": entries, "next_cursor": None}
    assert await account_id(app, mother) not in everything.text
    assert mother.persona.given_name not in everything.text


async def test_a_proxy_may_not_read_the_log_of_the_person_they_act_for(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    booked = (await book(client, parent, child)).json()["appointment_id"]

    response = await client.get(f"/v1/patients/{child}/access-log", headers=parent.headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["reason"]) == ("service_not_permitted", "patient_only")
    assert booked not in response.text
    # Their own log is theirs to read, and holds nothing they did for the child.
    own = await client.get(f"/v1/patients/{parent.patient_id()}/access-log", headers=parent.headers)
    assert own.status_code == 200
    assert own.json()["items"] == []


async def test_another_patients_log_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    patient = await sign_in("adult-full", ods_code="A81001")
    booked = (await book(client, patient, patient.patient_id())).json()["appointment_id"]
    someone_else = await sign_in("proxy-parent")

    response = await client.get(
        f"/v1/patients/{patient.patient_id()}/access-log", headers=someone_else.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"
    assert booked not in response.text


# --- the chain ---------------------------------------------------------------------------


async def test_rows_written_through_the_api_verify_as_a_chain_until_one_is_changed(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    patient = await sign_in("adult-full", ods_code="A81001")
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    booked = (await book(client, parent, child)).json()["appointment_id"]
    assert (await cancel(client, parent, child, booked)).status_code == 200
    assert (await book(client, patient, patient.patient_id())).status_code == 201
    assert (await client.post("/v1/auth/logout", headers=parent.headers)).status_code == 204
    rows = await audit_rows(app)
    assert [row.action for row in rows] == [
        AuditAction.SIGN_IN,
        AuditAction.SIGN_IN,
        AuditAction.APPOINTMENT_BOOKED,
        AuditAction.APPOINTMENT_CANCELLED,
        AuditAction.APPOINTMENT_BOOKED,
        AuditAction.SIGN_OUT,
    ]

    async with app.state.sessionmaker() as session:
        intact = await verify_chain(session)
    assert intact.ok, intact.describe()
    assert (intact.checked, intact.tip_sequence, intact.tip_hash) == (
        len(rows),
        rows[-1].sequence,
        rows[-1].hash,
    )

    # Someone with database access makes the proxy's booking look like the patient's own.
    tampered = rows[2]
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_events SET on_behalf = :no WHERE sequence = :sequence"),
            {"no": False, "sequence": tampered.sequence},
        )
    async with app.state.sessionmaker() as session:
        broken = await verify_chain(session)
    assert not broken.ok
    assert (broken.broken_at, broken.problem) == (tampered.sequence, ChainProblem.HASH_MISMATCH)
    assert broken.checked == tampered.sequence - 1
    assert "BROKEN at entry number 3" in broken.describe()
