"""A failing GP system, seen through the API: 503 problems, the breaker, recovery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from fastapi import FastAPI

from app.adapters.sandbox.adapter import find_sandbox
from app.config import Settings
from tests.conftest import SignIn, demo_practices_with

ODS = "A81001"
THRESHOLD = 3
COOLDOWN = 30


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], sandbox_database_url: str, tmp_path: Path
) -> Settings:
    """The demo practices with a short deadline, no retry waits and a small breaker."""
    path = demo_practices_with(
        tmp_path,
        timeouts={"connect": 1.0, "read": 0.5},
        resilience={
            "read_attempts": 2,
            "failure_threshold": THRESHOLD,
            "cooldown_seconds": COOLDOWN,
            "retry_wait_seconds": 0.0,
        },
    )
    return make_settings(sandbox_database_url=sandbox_database_url, practices_file=path)


def faults(app: FastAPI):  # type: ignore[no-untyped-def]
    return find_sandbox(app.state.gp_registry.for_practice(ODS)).faults


async def circuit(client: httpx.AsyncClient) -> str:
    systems = (await client.get("/status/gp-systems")).json()["gp_systems"]
    return str(next(system["circuit"] for system in systems if system["ods_code"] == ODS))


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "gp_system_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert "Traceback" not in response.text


async def test_outage_is_a_503_problem_then_the_breaker_opens_and_recovers(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=ODS)
    slots = f"/v1/patients/{user.patient_id()}/slots"
    with time_machine.travel(0, tick=True) as traveller:
        traveller.move_to("2026-01-05 09:00")
        faults(app).outage = True
        for _ in range(THRESHOLD):
            assert_unavailable(await client.get(slots, headers=user.headers))
        assert await circuit(client) == "opened"

        # Open: answered at once with the time left until a trial call.
        faults(app).outage = False
        response = await client.get(slots, headers=user.headers)
        assert_unavailable(response)
        assert int(response.headers["retry-after"]) <= COOLDOWN

        traveller.shift(timedelta(seconds=COOLDOWN + 1))
        assert (await client.get(slots, headers=user.headers)).status_code == 200
        assert await circuit(client) == "closed"


async def test_a_gp_system_that_hangs_times_out_as_503(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=ODS)
    faults(app).latency_ms = 2000
    response = await client.get(f"/v1/patients/{user.patient_id()}/slots", headers=user.headers)
    assert_unavailable(response)


async def test_a_booking_during_an_outage_is_503_and_books_nothing(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=ODS)
    base = f"/v1/patients/{user.patient_id()}"
    slot = (await client.get(f"{base}/slots", headers=user.headers)).json()["items"][0]
    before = (await client.get(f"{base}/appointments", headers=user.headers)).json()["items"]
    faults(app).outage = True
    response = await client.post(
        f"{base}/appointments",
        json={"slot_id": slot["slot_id"], "reason": "Sore throat"},
        headers={**user.headers, "Idempotency-Key": "outage-booking-1"},
    )
    assert_unavailable(response)
    faults(app).outage = False
    after = (await client.get(f"{base}/appointments", headers=user.headers)).json()["items"]
    assert after == before
    # Nothing was done, so the same key may be used again once the system is back.
    retry = await client.post(
        f"{base}/appointments",
        json={"slot_id": slot["slot_id"], "reason": "Sore throat"},
        headers={**user.headers, "Idempotency-Key": "outage-booking-1"},
    )
    assert retry.status_code == 201
