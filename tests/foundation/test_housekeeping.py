"""Housekeeping deletes what the service no longer needs, nothing younger: old idempotency
records, dead sessions (patients' and practice staff's), and reports of inaccuracies the
practice has had long enough."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.auth.models import AuthSession, StaffSession
from app.config import Settings
from app.devtools.cis2 import find_staff_persona, sign_in_staff_persona
from app.housekeeping import housekeeping
from app.idempotency.models import IdempotencyRecord
from app.records.models import RecordCorrection
from tests.conftest import FakeClock, SignIn
from tests.records.test_correction_budget import report


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
    assert await housekeeping(settings, clock) == {
        "idempotency_records": 0,
        "sessions": 0,
        "staff_sessions": 0,
        "record_corrections": 0,
        "access_requests": 0,
    }
    assert await _count(engine, IdempotencyRecord) == 1

    clock.advance(timedelta(hours=14))
    assert await housekeeping(settings, clock) == {
        "idempotency_records": 1,
        "sessions": 1,
        "staff_sessions": 0,
        "record_corrections": 0,
        "access_requests": 0,
    }
    assert await _count(engine, IdempotencyRecord) == 0
    assert await _count(engine, AuthSession) == 0


async def test_a_staff_session_past_its_end_is_deleted_and_a_live_one_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FakeClock,
    settings: Settings,
    engine: AsyncEngine,
) -> None:
    gp, reception = find_staff_persona("gp-a81001"), find_staff_persona("reception-a81001")
    assert gp is not None and reception is not None
    ended = await sign_in_staff_persona(app, gp)
    clock.advance(timedelta(hours=12) - timedelta(minutes=10))
    live = await sign_in_staff_persona(app, reception)

    # Up to its absolute end (12 hours), even unused, the first session's row is kept.
    assert (await housekeeping(settings, clock))["staff_sessions"] == 0
    assert await _count(engine, StaffSession) == 2

    clock.advance(timedelta(minutes=11))
    assert (await housekeeping(settings, clock))["staff_sessions"] == 1
    async with engine.connect() as connection:
        kept = (await connection.scalars(select(StaffSession.id))).all()
    assert kept == [live.signed_in.session_id]
    me = await client.get("/v1/staff/me", headers={"Authorization": f"Bearer {live.token}"})
    assert me.status_code == 200, me.text
    gone = await client.get("/v1/staff/me", headers={"Authorization": f"Bearer {ended.token}"})
    assert (gone.status_code, gone.json()["code"]) == (401, "staff_not_signed_in")


async def test_a_report_is_kept_for_the_configured_days_after_the_practice_had_it(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    clock: FakeClock,
    make_settings: Callable[..., Settings],
    sandbox_database_url: str,
    engine: AsyncEngine,
) -> None:
    settings = make_settings(
        sandbox_database_url=sandbox_database_url, record_correction_retention_days=30
    )
    keep_for = timedelta(days=30)
    user = await sign_in("adult-full", ods_code="A81001")
    first = await report(client, user, {"description": "My address is wrong"})
    assert (first.status_code, first.json()["status"]) == (201, "sent")
    clock.advance(timedelta(days=10))
    user = await sign_in("adult-full", ods_code="A81001")
    later = await report(client, user, {"description": "My name is spelled Ann"})
    assert later.status_code == 201

    # Up to the day: kept, so the person can see what they sent while the practice answers.
    clock.advance(keep_for - timedelta(days=10, minutes=1))
    assert (await housekeeping(settings, clock))["record_corrections"] == 0
    assert await _count(engine, RecordCorrection) == 2

    # Past it: the first is deleted, the later one kept; the audit trail keeps both events.
    clock.advance(timedelta(minutes=2))
    assert (await housekeeping(settings, clock))["record_corrections"] == 1
    user = await sign_in("adult-full", ods_code="A81001")
    url = f"/v1/patients/{user.patient_id()}/record/corrections"
    listed = (await client.get(url, headers=user.headers)).json()["items"]
    assert [c["correction_id"] for c in listed] == [later.json()["correction_id"]]
    async with engine.connect() as connection:
        targets = (
            await connection.scalars(
                select(AuditRecord.target).where(
                    AuditRecord.action == AuditAction.CORRECTION_SUBMITTED
                )
            )
        ).all()
    assert sorted(targets) == sorted([first.json()["correction_id"], later.json()["correction_id"]])

    clock.advance(timedelta(days=10))
    assert (await housekeeping(settings, clock))["record_corrections"] == 1
    assert await _count(engine, RecordCorrection) == 0


def test_reports_are_kept_90_days_unless_configured(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().record_correction_retention_days == 90
