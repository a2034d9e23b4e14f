"""Helpers for the appointment tests: every supplier profile, through the HTTP API.

`ods_code` runs a test once per sandbox practice (EMIS-, TPP- and Vision-like),
on top of the SQLite/PostgreSQL runs that `client` brings.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.auth.models import Account
from tests.conftest import FakeClock, SignedInUser, SignIn

EMIS, TPP, VISION = "A81001", "B82002", "C83003"
PRACTICES = [EMIS, TPP, VISION]

# A reason each practice accepts: EMIS-like asks for one, TPP-like takes none.
ACCEPTED_REASON = {EMIS: "Sore throat for a week", TPP: None, VISION: "Repeat blood test"}
# A cancellation reason each practice accepts (TPP-like has none).
CANCEL_REASON = {EMIS: "2", TPP: None, VISION: "CR2"}


@pytest.fixture(params=PRACTICES)
def ods_code(request: pytest.FixtureRequest) -> str:
    code: str = request.param
    return code


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def when(response: httpx.Response) -> datetime:
    """The `start` of a slot or appointment body as a datetime."""
    return datetime.fromisoformat(response.json()["start"])


@dataclass
class Patient:
    """One signed-in user acting for one patient, with the appointment calls as methods."""

    client: httpx.AsyncClient
    user: SignedInUser
    ods_code: str
    patient_id: str
    clock: FakeClock

    @property
    def base(self) -> str:
        return f"/v1/patients/{self.patient_id}"

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{self.base}{path}", params=params, headers=self.user.headers)

    async def practice(self) -> dict[str, Any]:
        response = await self.get("/practice")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def slots(self, **params: Any) -> list[dict[str, Any]]:
        """Every free slot the search finds, following `next_from` page by page."""
        items: list[dict[str, Any]] = []
        params = {"limit": 500, **params}
        while True:
            response = await self.get("/slots", **params)
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["items"])
            if body["next_from"] is None:
                return items
            params = {**params, "from": body["next_from"], "to": body["end"]}

    async def appointments(self, when: str = "upcoming") -> list[dict[str, Any]]:
        response = await self.get("/appointments", when=when)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def book(self, slot_id: str, *, key: str | None = None, **fields: Any) -> httpx.Response:
        return await self.client.post(
            f"{self.base}/appointments",
            json={"slot_id": slot_id, **fields},
            headers={**self.user.headers, "Idempotency-Key": key or new_key()},
        )

    async def later_slots(self, **params: Any) -> list[dict[str, Any]]:
        """Free slots from two days ahead: clear of every practice's cancellation cut-off."""
        start = self.clock.now() + timedelta(days=2)
        return await self.slots(**{"from": start.isoformat()}, **params)

    async def book_ok(self, slot: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Book `slot` (else the first free one two days ahead) with an accepted reason."""
        slot = slot or (await self.later_slots())[0]
        reason = ACCEPTED_REASON[self.ods_code]
        response = await self.book(
            slot["slot_id"], **({"reason": reason} if reason else {}) | fields
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def cancel(self, appointment_id: str, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"{self.base}/appointments/{appointment_id}/cancel",
            json=body,
            headers=self.user.headers,
        )

    def cancel_body(self) -> dict[str, str]:
        code = CANCEL_REASON[self.ods_code]
        return {"reason_code": code} if code else {}


Adult = Callable[[str], Awaitable[Patient]]


@pytest.fixture
def adult(client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock) -> Adult:
    """Sign in a practice's `adult-full` persona, acting for themself."""

    async def adult(ods_code: str) -> Patient:
        user = await sign_in("adult-full", ods_code=ods_code)
        return Patient(client, user, ods_code, user.patient_id(), clock)

    return adult


async def resign(patient: Patient, sign_in: SignIn) -> Patient:
    """A fresh session after moving the clock (sessions end after 30 minutes idle)."""
    user = await sign_in(patient.user.persona.tags[0], ods_code=patient.user.persona.ods_code)
    return Patient(patient.client, user, patient.ods_code, patient.patient_id, patient.clock)


def move_to(clock: FakeClock, moment: datetime) -> None:
    clock.current = moment.replace(microsecond=0)


async def account_id(app: FastAPI, user: SignedInUser) -> str:
    sub = user.persona.nhs_login_claims["sub"]
    async with app.state.sessionmaker() as db:
        found = await db.scalar(select(Account.id).where(Account.nhs_login_sub == sub))
    assert found is not None
    return found


async def audit_rows(app: FastAPI, action: AuditAction, target: str) -> list[AuditRecord]:
    async with app.state.sessionmaker() as db:
        rows = await db.scalars(
            select(AuditRecord).where(AuditRecord.action == action, AuditRecord.target == target)
        )
        return list(rows)


def later(moment: str | datetime, **delta: float) -> str:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (value + timedelta(**delta)).isoformat()
