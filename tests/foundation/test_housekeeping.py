"""Housekeeping deletes old idempotency records and dead sessions, nothing younger."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import AuthSession
from app.config import Settings
from app.housekeeping import housekeeping
from app.idempotency.models import IdempotencyRecord
from tests.conftest import FakeClock, SignIn


async def _count(engine: AsyncEngine, model: type) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar())


async def test_housekeeping_keeps_what_is_live_and_deletes_what_is_not(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    clock: FakeClock,
    settings: Settings,
    engine: AsyncEngine,
) -> None:
    user = await sign_in("adult-full", ods_code="C83003")
    base = f"/v1/patients/{user.patient_id()}"
    slot = (await client.get(f"{base}/slots", headers=user.headers)).json()["items"][0]
    booked = await client.post(
        f"{base}/appointments",
        json={"slot_id": slot["slot_id"], "reason": "Rash on arm"},
        headers={**user.headers, "Idempotency-Key": "housekeeping-1"},
    )
    assert booked.status_code == 201

    clock.advance(timedelta(hours=11))
    assert await housekeeping(settings.database_url, clock) == {
        "idempotency_records": 0,
        "sessions": 0,
    }
    assert await _count(engine, IdempotencyRecord) == 1

    clock.advance(timedelta(hours=14))
    assert await housekeeping(settings.database_url, clock) == {
        "idempotency_records": 1,
        "sessions": 1,
    }
    assert await _count(engine, IdempotencyRecord) == 0
    assert await _count(engine, AuthSession) == 0
