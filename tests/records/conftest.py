"""Helpers for the record tests: the sandbox's record personas, through the HTTP API.

The API names entries and documents by shown ids (app/patients/ids.py), never by the
GP system's own (`B82002-P088-E12`): `Viewer.entry_ids(12)` is the id the API shows for
entry `E12` of the patient being viewed, made from the practice, the patient and the
GP system's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.adapters.sandbox.seed import SeedRows
from app.patients.ids import IdKind
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


def gp_entry_id(ref: str, number: int) -> str:
    """The GP system's own id for a patient's entry, as the seed numbers them."""
    return f"{ref}-E{number:02d}"


def gp_document_id(ref: str, number: int) -> str:
    """The GP system's own id for a patient's document, as the seed numbers them."""
    return f"{ref}-D{number}"


def days_ago(today: date, days: int) -> date:
    return today - timedelta(days=days)


@dataclass
class Viewer:
    """One signed-in user reading one patient's record."""

    client: httpx.AsyncClient
    user: SignedInUser
    patient_id: str

    @property
    def patient_ref(self) -> str:
        """The GP system's id for the patient whose record this is (the persona's own, or
        that of someone they act for)."""
        persona = self.user.persona
        refs = [persona.patient_ref, *(other.patient_ref for other in persona.acts_for)]
        return next(ref for ref in refs if self.user.patient_id(ref) == self.patient_id)

    def shown(self, kind: IdKind, gp_id: str) -> str:
        """The id the API shows for the GP system's `gp_id` in this patient's record."""
        return self.user.shown_id(kind, gp_id, self.patient_ref)

    def entry_ids(self, *numbers: int) -> list[str]:
        """The shown ids of this patient's entries `E<number>`, in the order given."""
        return [self.shown(IdKind.ENTRY, gp_entry_id(self.patient_ref, n)) for n in numbers]

    def entry_id(self, number: int) -> str:
        [shown] = self.entry_ids(number)
        return shown

    def document_ids(self, *numbers: int) -> list[str]:
        """The shown ids of this patient's documents `D<number>`, in the order given."""
        return [self.shown(IdKind.DOCUMENT, gp_document_id(self.patient_ref, n)) for n in numbers]

    def document_id(self, number: int) -> str:
        [shown] = self.document_ids(number)
        return shown

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
        """Every item id of a section, following the pages; None when not available.

        Checks on the way that the list is in its order: newest first, and within a day
        by shown id (never the GP system's order), each item once."""
        found: list[tuple[date, str]] = []
        cursor = None
        while True:
            extra = {**params, **({"cursor": cursor} if cursor else {})}
            body = await self.section(name, **extra)
            if not body["available"]:
                assert body["items"] is None
                return None
            key = "document_id" if name == "documents" else "entry_id"
            found += [
                (date.fromisoformat(item["recorded_on"]), item[key]) for item in body["items"]
            ]
            cursor = body["next_cursor"]
            if cursor is None:
                assert found == sorted(found, key=newest_first), name
                assert len({item_id for _, item_id in found}) == len(found), name
                return [item_id for _, item_id in found]


def newest_first(item: tuple[date, str]) -> tuple[int, str]:
    """A list's order: newest first, then by (shown) id."""
    day, item_id = item
    return (-day.toordinal(), item_id)


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


def withheld_shown_ids(viewer: Viewer, rows: SeedRows) -> set[str]:
    """The ids the API would show for this patient's withheld entries and documents."""
    withheld = withheld_entry_ids(rows)
    return {
        viewer.shown(IdKind.ENTRY, row["entry_id"])
        for row in rows["sandbox_record_entries"]
        if row["patient_ref"] == viewer.patient_ref and row["entry_id"] in withheld
    } | {
        viewer.shown(IdKind.DOCUMENT, row["document_id"])
        for row in rows["sandbox_documents"]
        if row["patient_ref"] == viewer.patient_ref and row["document_id"] in withheld
    }
