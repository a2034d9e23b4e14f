"""No patient-identifiable data in logs: NHS numbers, names, dates of birth, free text."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.db import create_engine
from tests.conftest import SignIn

REASON = "Chest pain when climbing stairs"
CORRECTION = "The allergy to peanuts is wrong, it was a rash from washing powder"
NOTE = "My dose went up at the hospital last week"


async def test_a_day_of_use_logs_nothing_that_identifies_a_patient(
    client: httpx.AsyncClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture
) -> None:
    # As deployed: the app's own loggers at any level, libraries at INFO and above.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="app")
    user = await sign_in("proxy-parent")
    child = user.acts_for("child-under-11")
    for patient_id in (user.patient_id(), child):
        base = f"/v1/patients/{patient_id}"
        await client.get("/v1/me", headers=user.headers)
        await client.get("/v1/me/patients", headers=user.headers)
        slots = (await client.get(f"{base}/slots", headers=user.headers)).json()["items"]
        for key, slot in (("log-1", slots[0]), ("log-2", slots[0])):  # the second is refused
            await client.post(
                f"{base}/appointments",
                json={"slot_id": slot["slot_id"], "reason": REASON},
                headers={**user.headers, "Idempotency-Key": f"{key}-{patient_id}"},
            )
        await client.post(
            f"{base}/appointments",
            json={"slot_id": "nope", "reason": REASON, "telephone_number": "not a number"},
            headers={**user.headers, "Idempotency-Key": f"bad-{patient_id}"},
        )
        for section in ("allergies", "consultations", "test-results", "documents"):
            await client.get(f"{base}/record/{section}", headers=user.headers)
        await client.post(
            f"{base}/record/corrections",
            json={"description": CORRECTION},
            headers={**user.headers, "Idempotency-Key": f"correction-{patient_id}"},
        )
        courses = (await client.get(f"{base}/prescriptions/courses", headers=user.headers)).json()[
            "items"
        ]
        for key, course in (("order-1", courses[0]), ("order-2", courses[0])):  # then pending
            await client.post(
                f"{base}/prescriptions/requests",
                json={"course_ids": [course["course_id"]], "note": NOTE},
                headers={**user.headers, "Idempotency-Key": f"{key}-{patient_id}"},
            )
        await client.get(f"{base}/prescriptions/requests", headers=user.headers)
        await client.put(f"{base}/pharmacy", json={"ods_code": "FEE05"}, headers=user.headers)
    await client.post("/v1/auth/logout", headers=user.headers)

    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records, "nothing was logged at all"
    people = [user.persona, *user.persona.acts_for]
    for person in people:
        for value in (
            person.nhs_number,
            person.family_name,
            person.given_name,
            person.birth_date.isoformat(),
            person.birth_date.strftime("%d/%m/%Y"),
        ):
            assert value not in logged, value
    assert REASON not in logged
    assert CORRECTION not in logged
    assert NOTE not in logged
    for term in ("Amlodipine", "Cetirizine"):  # the medicines ordered
        assert term not in logged, term
    for term in ("Penicillin allergy", "No known drug allergy", "Haemoglobin A1c"):
        assert term not in logged, term
    assert user.token not in logged


async def test_database_errors_do_not_carry_the_values_sent(database_url: str) -> None:
    # An unexpected database error is logged by the 500 handler with its message;
    # SQLAlchemy puts the bound parameters (NHS numbers, reasons) there unless hidden.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TEMPORARY TABLE pii_probe (n VARCHAR(10))"))
            await connection.execute(text("CREATE UNIQUE INDEX pii_probe_n ON pii_probe (n)"))
            insert = text("INSERT INTO pii_probe (n) VALUES (:n)")
            await connection.execute(insert, {"n": "9434765919"})
            with pytest.raises(IntegrityError) as failed:
                await connection.execute(insert, {"n": "9434765919"})
    finally:
        await engine.dispose()
    assert "9434765919" not in str(failed.value)
