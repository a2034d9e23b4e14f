"""What is stored: encrypted details, ordered events, audit rows naming no one, retention."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.access_requests.service import prune_closed
from tests.access_requests.conftest import StaffOf, applications_url, apply, proxy_body
from tests.conftest import FakeClock, SignIn


async def dump(app: FastAPI, table: str) -> str:
    async with app.state.engine.connect() as connection:
        rows = (await connection.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
    return "\n".join(repr(tuple(row)) for row in rows)


async def test_identity_and_free_text_are_stored_only_encrypted_and_audited_by_id(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    james = await sign_in("proxy-parent")
    olivia = await sign_in("adult-full", ods_code="A81001")
    body = proxy_body(
        olivia.persona,
        basis="lasting_power_of_attorney",
        relationship="relative",
        document_reference="LPA-REF-55501",
        ends_on="2027-06-30",
    )
    request_id = (await apply(client, james, body)).json()["request_id"]
    staff = staff_of("A81001")
    await staff.post(f"/{request_id}/identity-check", {"method": "photo_documents"})
    await staff.post(
        f"/{request_id}/reject", {"reason": "Please bring the original deed to reception."}
    )

    secrets = [
        olivia.persona.nhs_number,
        olivia.persona.family_name,
        olivia.persona.given_name,
        olivia.persona.birth_date.isoformat(),
        james.persona.family_name,
        "LPA-REF-55501",
        "original deed",
        olivia.persona.patient_ref,
    ]
    stored = await dump(app, "access_requests") + await dump(app, "access_request_events")
    audit = await dump(app, "audit_events")
    idempotency = await dump(app, "idempotency_records")
    for value in secrets:
        assert value not in stored, value
        assert value not in audit, value
        assert value not in idempotency, value
    # Who decided, on what basis, until when (DAPB3051).
    assert f"{request_id}:rejected:lasting_power_of_attorney:2027-06-30" in audit
    assert f"cis2:{staff.user_id}" in audit
    assert "application_rejected" in audit and "application_identity_verified" in audit
    # The applicant reads the reason back in the clear.
    [seen] = (await client.get(applications_url(james), headers=james.headers)).json()["items"]
    assert seen["rejection_reason"] == "Please bring the original deed to reception."


async def test_closed_applications_are_deleted_after_the_retention_period(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    closed = (await apply(client, olivia, {"kind": "historic_record"})).json()["request_id"]
    await client.post(f"{applications_url(olivia)}/{closed}/withdraw", headers=olivia.headers)
    still_open = (await apply(client, olivia, {"kind": "detailed_coded"})).json()["request_id"]
    keep_for = timedelta(days=180)
    async with app.state.sessionmaker() as session:
        assert await prune_closed(session, now=clock.now() + keep_for, keep_for=keep_for) == 0
        later = clock.now() + keep_for + timedelta(seconds=1)
        assert await prune_closed(session, now=later, keep_for=keep_for) == 1
    left = await dump(app, "access_requests")
    assert still_open in left and closed not in left
    assert closed not in await dump(app, "access_request_events")
