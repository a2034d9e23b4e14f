"""Applications for access through the HTTP API: applicants, patients and practice staff.

Staff sign in for real: `staff_of(ods_code)` calls that practice's routes as one of the
NHS CIS2 stand-in's staff personas there (its GP, or its receptionist for the
administrator role), with a staff session from the same claims reading and session code
as the CIS2 sign-in (`sign_in_staff_persona`). The whole browser round trip through the
stand-in is walked in test_staff_sign_in.py and tests/staff.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox.personas import ActsFor, find_persona
from app.clock import today
from app.devtools.cis2 import StaffPersona, find_staff_persona, sign_in_staff_persona
from app.staff.types import StaffRole
from tests.conftest import FakeClock, SignedInUser


@dataclass
class Staff:
    """Calls to one practice's staff routes, as a staff persona signed in with a bearer
    session (signed in at the first call)."""

    client: httpx.AsyncClient
    app: FastAPI
    persona: StaffPersona
    ods_code: str
    token: str | None = None

    @property
    def user_id(self) -> str:
        return self.persona.uid

    async def headers(self) -> dict[str, str]:
        if self.token is None:
            self.token = (await sign_in_staff_persona(self.app, self.persona)).token
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str = "", ods_code: str | None = None) -> str:
        return f"/v1/practices/{ods_code or self.ods_code}/access-requests{path}"

    async def get(self, path: str = "", **kwargs: Any) -> httpx.Response:
        return await self.client.get(self.url(path), headers=await self.headers(), **kwargs)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(self.url(path), json=body, headers=await self.headers())

    async def walk_to_review(self, request_id: str, **review: Any) -> httpx.Response:
        """Identity checked, then reviewed (approved unless `review` says otherwise)."""
        checked = await self.post(f"/{request_id}/identity-check", {"method": "nhs_login_p9"})
        assert checked.status_code == 200, checked.text
        assert checked.json()["status"] == "identity_verified"
        reviewed = await self.post(
            f"/{request_id}/clinical-review", {"outcome": "approved", **review}
        )
        assert reviewed.status_code == 200, reviewed.text
        return reviewed


StaffOf = Callable[..., Staff]


@pytest.fixture
def staff_of(app: FastAPI, client: httpx.AsyncClient) -> StaffOf:
    def make(
        ods_code: str, roles: frozenset[StaffRole] = frozenset({StaffRole.CLINICIAN})
    ) -> Staff:
        # The practice's GP (R8000) is a clinician; its receptionist (R8008) administers.
        kind = "gp" if StaffRole.CLINICIAN in roles else "reception"
        persona = find_staff_persona(f"{kind}-{ods_code.lower()}")
        assert persona is not None, (kind, ods_code)
        return Staff(client, app, persona, ods_code)

    return make


def applications_url(user: SignedInUser) -> str:
    return f"/v1/patients/{user.patient_id()}/access-requests"


async def apply(
    client: httpx.AsyncClient, user: SignedInUser, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**user.headers, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post(applications_url(user), json=body, headers=headers)


class Named(Protocol):
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date


def proxy_body(person: Named, *, basis: str, relationship: str, **extra: Any) -> dict[str, Any]:
    """A proxy application naming `person` (a persona, or someone a persona acts for)."""
    return {
        "kind": "proxy",
        "patient": {
            "nhs_number": person.nhs_number,
            "given_name": person.given_name,
            "family_name": person.family_name,
            "birth_date": person.birth_date.isoformat(),
        },
        "relationship": relationship,
        "basis": basis,
        "services": {"appointments": True, "prescriptions": True, "record": "summary"},
        **extra,
    }


def acts_for(tag: str, other: str, clock: FakeClock) -> ActsFor:
    """Someone tagged `other` whom the persona tagged `tag` acts for."""
    persona = find_persona(today(clock), tag)
    return next(o for o in persona.acts_for if other in o.tags)
