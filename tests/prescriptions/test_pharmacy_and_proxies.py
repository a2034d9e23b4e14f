"""The nominated pharmacy, and what a proxy may do with prescriptions."""

from __future__ import annotations

from fastapi import FastAPI

from app.adapters.sandbox import find_sandbox
from app.adapters.sandbox.switches import switch_services
from app.audit.types import AuditAction
from app.config import Settings
from app.db import create_engine
from tests.appointments.conftest import audit_rows
from tests.prescriptions.conftest import EMIS, MakeOrderer


async def test_the_patient_sees_and_changes_their_nominated_pharmacy(
    orderer: MakeOrderer, ods_code: str, app: FastAPI
) -> None:
    patient = await orderer("adult-full", ods_code)
    before = (await patient.get("/pharmacy")).json()["pharmacy"]
    assert before is not None and before["ods_code"].startswith("F")

    response = await patient.client.put(
        f"{patient.base}/pharmacy", json={"ods_code": "fee05"}, headers=patient.user.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["pharmacy"] == {
        "ods_code": "FEE05",
        "name": "Online Dispensary",
        "address": "Unit 5, Park Road, Leeds",
    }
    assert (await patient.get("/pharmacy")).json() == response.json()
    assert len(await audit_rows(app, AuditAction.PHARMACY_NOMINATED, "FEE05")) == 1


async def test_an_unknown_pharmacy_is_refused_plainly(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    before = (await patient.get("/pharmacy")).json()

    unknown = await patient.client.put(
        f"{patient.base}/pharmacy", json={"ods_code": "ZZZ99"}, headers=patient.user.headers
    )
    malformed = await patient.client.put(
        f"{patient.base}/pharmacy", json={"ods_code": "not a code"}, headers=patient.user.headers
    )

    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_pharmacy")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "validation_failed")
    assert (await patient.get("/pharmacy")).json() == before


async def test_where_the_practice_does_not_offer_prescriptions_the_pharmacy_cannot_change(
    orderer: MakeOrderer, app: FastAPI, settings: Settings
) -> None:
    """Seeing it is refused there, so changing it is too: it is part of prescriptions."""
    engine = create_engine(settings.sandbox_url)
    try:
        await switch_services(engine, EMIS, {"prescriptions": False})
    finally:
        await engine.dispose()
    patient = await orderer("adult-full", EMIS)

    seen = await patient.get("/pharmacy")
    changed = await patient.client.put(
        f"{patient.base}/pharmacy", json={"ods_code": "FEE05"}, headers=patient.user.headers
    )

    for response in (seen, changed):
        assert response.status_code == 403, response.text
        problem = response.json()
        assert (problem["code"], problem["reason"]) == (
            "service_not_permitted",
            "not_offered_by_practice",
        )
    assert not await audit_rows(app, AuditAction.PHARMACY_NOMINATED, "FEE05")
    sandbox = find_sandbox(app.state.gp_registry.for_practice(EMIS))
    assert (await sandbox.get_nominated_pharmacy(patient.patient_ref)).ods_code != "FEE05"


async def test_a_proxy_sees_the_pharmacy_but_cannot_change_it(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    carer = await orderer("carer", acts_for="care-home-resident")
    assert (await carer.get("/pharmacy")).json()["pharmacy"]["ods_code"] == "FDD04"

    response = await carer.client.put(
        f"{carer.base}/pharmacy", json={"ods_code": "FEE05"}, headers=carer.user.headers
    )

    assert response.status_code == 403
    problem = response.json()
    assert (problem["code"], problem["reason"]) == (
        "service_not_permitted",
        "proxy_cannot_change_pharmacy",
    )
    assert "Only the patient" in problem["detail"]
    assert (await carer.get("/pharmacy")).json()["pharmacy"]["ods_code"] == "FDD04"
    assert not await audit_rows(app, AuditAction.PHARMACY_NOMINATED, "FEE05")


async def test_a_carer_orders_for_the_resident_and_is_recorded_as_acting_for_them(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    carer = await orderer("carer", acts_for="care-home-resident")
    donepezil = (await carer.courses())["Donepezil"]["course_id"]

    response = await carer.order([donepezil])

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["requested_by"] == "you"
    # The seeded pending request was made by the same carer: also "you" to them.
    assert all(r["requested_by"] == "you" for r in await carer.requests())
    (row,) = await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, body["request_id"])
    assert row.on_behalf and row.relationship_kind == "carer"
    assert row.patient_id == carer.patient_id


async def test_a_proxy_without_the_prescriptions_permission_is_refused(
    orderer: MakeOrderer,
) -> None:
    # The parent of a 16-year-old: access stopped at 16, whatever the GP system says.
    parent = await orderer("parent-of-16", acts_for="age-16-proxied")
    for path in ("/prescriptions/courses", "/prescriptions/requests", "/pharmacy"):
        response = await parent.get(path)
        assert response.status_code == 403, path
        assert response.json()["reason"] == "proxy_suspended_at_16"
