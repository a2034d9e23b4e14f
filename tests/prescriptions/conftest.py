"""Helpers for the prescription tests: every supplier profile, through the HTTP API.

`ods_code` runs a test once per sandbox practice (EMIS-, TPP- and Vision-like),
on top of the SQLite/PostgreSQL runs that `client` brings. The Vision-like
practice asks for a note with every request; the TPP-like system cannot
withdraw a request once sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.patients.ids import IdKind
from tests.conftest import FakeClock, SignedInUser, SignIn

EMIS, TPP, VISION = "A81001", "B82002", "C83003"
PRACTICES = [EMIS, TPP, VISION]
NOTE = {EMIS: None, TPP: None, VISION: "Nothing has changed since my last request"}


@pytest.fixture(params=PRACTICES)
def ods_code(request: pytest.FixtureRequest) -> str:
    code: str = request.param
    return code


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


@dataclass
class Orderer:
    """One signed-in user acting for one patient, with the prescription calls as methods."""

    client: httpx.AsyncClient
    user: SignedInUser
    ods_code: str
    patient_id: str
    patient_ref: str  # the GP system's reference for the patient
    clock: FakeClock

    @property
    def base(self) -> str:
        return f"/v1/patients/{self.patient_id}"

    def gp_course(self, n: int) -> str:
        """The GP system's id of the patient's seeded course number `n`."""
        return f"{self.patient_ref}-C{n}"

    def gp_request(self, n: int) -> str:
        """The GP system's id of the patient's seeded request number `n`."""
        return f"{self.patient_ref}-R{n}"

    def shown_course(self, gp_id: str) -> str:
        """The id the API shows for the GP system's course `gp_id`."""
        return self.user.shown_id(IdKind.COURSE, gp_id, self.patient_ref)

    def shown_request(self, gp_id: str) -> str:
        """The id the API shows for the GP system's prescription request `gp_id`."""
        return self.user.shown_id(IdKind.PRESCRIPTION_REQUEST, gp_id, self.patient_ref)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{self.base}{path}", params=params, headers=self.user.headers)

    async def courses(self) -> dict[str, dict[str, Any]]:
        """The listed courses by name (first word), e.g. `courses["Amlodipine"]`."""
        response = await self.get("/prescriptions/courses")
        assert response.status_code == 200, response.text
        return {item["name"].split()[0]: item for item in response.json()["items"]}

    async def requests(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.get("/prescriptions/requests", **{"limit": 100, **params})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def order(
        self, course_ids: list[str], *, key: str | None = None, **fields: Any
    ) -> httpx.Response:
        body = {"course_ids": course_ids, **fields}
        if "note" not in fields and NOTE[self.ods_code]:
            body["note"] = NOTE[self.ods_code]
        return await self.client.post(
            f"{self.base}/prescriptions/requests",
            json=body,
            headers={**self.user.headers, "Idempotency-Key": key or new_key()},
        )

    async def cancel(self, request_id: str) -> httpx.Response:
        return await self.client.post(
            f"{self.base}/prescriptions/requests/{request_id}/cancel", headers=self.user.headers
        )


MakeOrderer = Callable[..., Awaitable[Orderer]]


@pytest.fixture
def orderer(client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock) -> MakeOrderer:
    """Sign a persona in (by tag) acting for themself, or for the person with `acts_for`."""

    async def make(
        tag: str, ods_code: str | None = None, *, acts_for: str | None = None
    ) -> Orderer:
        user = await sign_in(tag, ods_code=ods_code)
        patient_ref = user.persona.patient_ref
        if acts_for:
            patient_ref = next(o for o in user.persona.acts_for if acts_for in o.tags).patient_ref
        patient_id = user.patient_id(patient_ref)
        return Orderer(client, user, user.persona.ods_code, patient_id, patient_ref, clock)

    return make
