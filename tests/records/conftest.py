"""Helpers for the record tests: the sandbox's record personas, through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.adapters.sandbox.seed import SeedRows
from tests.conftest import SignedInUser

EMIS, TPP, VISION = "A81001", "B82002", "C83003"
PRACTICES = [EMIS, TPP, VISION]
ENTRY_SECTIONS = [
    "allergies",
    "medications",
    "problems",
    "immunisations",
    "test-results",
    "consultations",
]
HBA1C = "1107481000000106"


@pytest.fixture(params=PRACTICES)
def ods_code(request: pytest.FixtureRequest) -> str:
    code: str = request.param
    return code


def entry_ids(ref: str, *numbers: int) -> list[str]:
    return [f"{ref}-E{number:02d}" for number in numbers]


def days_ago(today: date, days: int) -> date:
    return today - timedelta(days=days)


@dataclass
class Viewer:
    """One signed-in user reading one patient's record."""

    client: httpx.AsyncClient
    user: SignedInUser
    patient_id: str

    @property
    def base(self) -> str:
        return f"/v1/patients/{self.patient_id}/record"

    async def get(self, path: str = "", **params: Any) -> httpx.Response:
        return await self.client.get(self.base + path, headers=self.user.headers, params=params)

    async def section(self, name: str, **params: Any) -> dict[str, Any]:
        response = await self.get(f"/{name}", **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ids(self, name: str, **params: Any) -> list[str] | None:
        """Every item id of a section, following the pages; None when not available."""
        found: list[str] = []
        cursor = None
        while True:
            extra = {**params, **({"cursor": cursor} if cursor else {})}
            body = await self.section(name, **extra)
            if not body["available"]:
                assert body["items"] is None
                return None
            key = "document_id" if name == "documents" else "entry_id"
            found += [item[key] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return found


def withheld_entry_ids(rows: SeedRows) -> set[str]:
    """Entries the seed marks hidden, third-party, harmful, or unfiled results."""
    return {
        row["entry_id"]
        for row in rows["sandbox_record_entries"]
        if row["hidden"]
        or row["third_party"]
        or row["harmful"]
        or (row["section"] == "test_results" and not row["filed"])
    } | {
        row["document_id"]
        for row in rows["sandbox_documents"]
        if row["hidden"] or row["third_party"] or row["harmful"]
    }
