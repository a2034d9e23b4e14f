"""The service's own booking rules, behind a GP system that is more lenient.

The sandbox GP systems enforce their own limits, so a rule the service forgot
(or got off by one) would go unnoticed behind them. Here the practices file
makes the EMIS-like practice's policy stricter than its system's: at most one
future appointment (its system allows two) and a three-hour cancellation
cut-off (its system has none). Only the service stands between the patient
and the more lenient system, so each test fails if the service's check is
removed or shifted by one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.config import Settings
from tests.appointments.conftest import EMIS, Adult, move_to, resign
from tests.conftest import SignIn, demo_practices_with

CUTOFF = timedelta(hours=3)


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], sandbox_database_url: str, tmp_path: Path
) -> Settings:
    path = demo_practices_with(
        tmp_path,
        EMIS,
        policy={
            "max_future_appointments": 1,
            "cancellation_cutoff_minutes": int(CUTOFF.total_seconds() // 60),
        },
    )
    return make_settings(sandbox_database_url=sandbox_database_url, practices_file=path)


async def test_the_booking_limit_is_the_services_own(adult: Adult) -> None:
    patient = await adult(EMIS)
    assert (await patient.practice())["max_future_appointments"] == 1
    (booked,) = await patient.appointments()  # Olivia's one upcoming appointment

    refused = await patient.book((await patient.later_slots())[0]["slot_id"], reason="Rash")
    assert (refused.status_code, refused.json()["code"]) == (409, "booking_limit_reached")
    assert len(await patient.appointments()) == 1

    # Below the limit again, the same booking goes through.
    assert (await patient.cancel(booked["appointment_id"], **patient.cancel_body())).is_success
    await patient.book_ok()
    # The cancelled one stays upcoming, marked cancelled; one is booked.
    assert [a["status"] for a in await patient.appointments()].count("booked") == 1


async def test_the_cancellation_cut_off_is_the_services_own(adult: Adult, sign_in: SignIn) -> None:
    patient = await adult(EMIS)
    (booked,) = await patient.appointments()
    start = datetime.fromisoformat(booked["start"])

    # One second inside the cut-off: too late, although the GP system would accept it.
    move_to(patient.clock, start - CUTOFF + timedelta(seconds=1))
    patient = await resign(patient, sign_in)
    (listed,) = await patient.appointments()
    assert (listed["cancellable"], listed["not_cancellable_reason"]) == (
        False,
        "too_late_to_cancel",
    )
    refused = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    assert (refused.status_code, refused.json()["code"]) == (422, "too_late_to_cancel")
    assert (await patient.appointments())[0]["status"] == "booked"

    # Exactly at the cut-off: still in time.
    move_to(patient.clock, start - CUTOFF)
    patient = await resign(patient, sign_in)
    assert (await patient.appointments())[0]["cancellable"] is True
    response = await patient.cancel(booked["appointment_id"], **patient.cancel_body())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
