"""Refusals in the audit trail: denied patient access, CSRF and Origin failures, spent budgets."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.adapters.sandbox.personas import find_persona
from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.auth.cookies import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.clock import today
from app.config import Settings
from app.devtools.sessions import sign_in_persona
from tests.audit.rows import refused
from tests.conftest import FakeClock, SignIn


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_database_url: str) -> Settings:
    return make_settings(
        sandbox_database_url=sandbox_database_url,
        rate_limit_booking="1/hour",
        rate_limit_namespace=uuid.uuid4().hex,
    )


async def test_another_patients_id_is_a_refusal_that_keeps_nothing_sent(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    guessed = "guessed0another0patient0id"
    for _ in range(3):
        response = await client.get(f"/v1/patients/{guessed}/slots", headers=user.headers)
        assert response.status_code == 404
    (row,) = await refused(app)  # once a minute per account and reason, however many tries
    assert row.action == AuditAction.ACCESS_REFUSED
    async with app.state.sessionmaker() as db:
        signed_in = await db.scalar(
            select(AuditRecord.actor_id).where(AuditRecord.action == AuditAction.SIGN_IN)
        )
    assert row.actor_id == signed_in
    assert row.patient_id is None
    assert row.target == "patient_not_found"
    assert guessed not in repr(vars(row))


async def test_a_service_not_granted_to_a_proxy_is_a_refusal_for_that_patient(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    carer = await sign_in("carer")
    resident = carer.acts_for("care-home-resident")
    response = await client.get(f"/v1/patients/{resident}/slots", headers=carer.headers)
    assert response.status_code == 403
    (row,) = await refused(app)
    assert row.action == AuditAction.ACCESS_REFUSED
    assert row.patient_id == resident
    assert row.on_behalf is True
    assert row.target is not None and row.target.startswith("service_not_permitted:appointments")


async def test_a_cookie_request_from_another_site_is_a_refusal(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    issued = await sign_in_persona(app, find_persona(today(clock), "adult-full"), via="cookie")
    csrf = app.state.auth.csrf_token(issued.signed_in.session_id)
    cookies = f"{SESSION_COOKIE}={issued.token}; {CSRF_COOKIE}={csrf}"
    evil = await client.post(
        "/v1/auth/logout",
        headers={"Cookie": cookies, CSRF_HEADER: csrf, "Origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    no_token = await client.post("/v1/auth/logout", headers={"Cookie": cookies})
    assert no_token.status_code == 403
    rows = await refused(app)
    assert [(r.action, r.target) for r in rows] == [
        (AuditAction.REQUEST_REFUSED, "origin_not_allowed"),
        (AuditAction.REQUEST_REFUSED, "csrf_token_invalid"),
    ]
    assert {r.actor_id for r in rows} == {issued.signed_in.account_id}


async def test_a_spent_budget_is_a_refusal(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    for _ in range(3):
        await client.post(
            f"/v1/patients/{user.patient_id()}/appointments",
            json={"slot_id": "no-such-slot"},
            headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
    (row,) = await refused(app)
    assert (row.action, row.target, row.patient_id) == (AuditAction.RATE_LIMITED, "booking", None)
