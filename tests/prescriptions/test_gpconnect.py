"""Prescriptions through the API at a practice reached over GP Connect.

The practice's courses and requests come from the patient-facing prescriptions
API, played by a stateful respx fake shaped like the specification's examples
(tests/adapters/gpconnect). The patient signs in as NHS login would sign them in
and is linked by NHS number and demographics: their NHS number is their reference at
the practice, and every call carries their own access token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.adapters.gpconnect.fhir_prescriptions import task_group
from app.audit.types import AuditAction
from app.auth import service as auth_service
from app.auth.oidc import identity_from_claims
from app.config import Settings
from app.patients.ids import IdKind, shown_id
from tests.adapters.gpconnect import fake_server as fake
from tests.adapters.gpconnect.conftest import ENDPOINTS, ODS_CODE, provider
from tests.appointments.conftest import audit_rows
from tests.conftest import FakeClock
from tests.prescriptions.conftest import new_key


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    practices = {
        "practices": [
            {
                "ods_code": ODS_CODE,
                "name": "Riverside Medical Centre",
                "adapter": "gpconnect",
                "endpoints": ENDPOINTS,
                "timeouts": {"connect": 0.5, "read": 1.0},
            }
        ]
    }
    path = tmp_path / "practices.json"
    path.write_text(json.dumps(practices))
    for name, value in {
        "GPCONNECT_CONSUMER_ODS_CODE": "X26",
        "GPCONNECT_CONSUMER_TELEPHONE": "0300 303 5678",
    }.items():
        monkeypatch.setenv(name, value)
    return make_settings(practices_file=path)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[fake.FakeGPConnect]:
    with respx.mock(assert_all_called=False, assert_all_mocked=False) as router:
        router.route(host="testserver").pass_through()
        installed = provider(clock.now).install(router)
        yield installed
    # Each request the official documents refuse fails the test where it is made; this
    # catches one the service swallowed.
    assert not installed.violations, "\n".join(installed.violations)


@pytest.fixture
async def patient(
    app: FastAPI, client: httpx.AsyncClient, server: fake.FakeGPConnect, clock: FakeClock
) -> AsyncIterator[dict[str, Any]]:
    claims = {
        "sub": "gpconnect-patient-1",
        "nhs_number": fake.NHS_NUMBER,
        "family_name": fake.FAMILY_NAME,
        "birthdate": fake.BIRTH_DATE.isoformat(),
        "identity_proofing_level": "P9",
        "vot": "P9.Cp.Cd",
        "gp_registration_details": {"gp_ods_code": ODS_CODE},
    }
    async with app.state.sessionmaker() as db:
        issued = await auth_service.sign_in(
            db,
            identity_from_claims(claims, claims),
            registry=app.state.gp_registry,
            cipher=app.state.auth.cipher,
            clock=clock,
            policy=app.state.auth.policy,
            via="bearer",
        )
    headers = {"Authorization": f"Bearer {issued.token}"}
    me = (await client.get("/v1/me/patients", headers=headers)).json()["items"][0]
    yield {"headers": headers, "base": f"/v1/patients/{me['patient_id']}"}


def shown(app: FastAPI, kind: IdKind, gp_id: str) -> str:
    """The id the API shows the patient for the GP system's `gp_id`."""
    secret = app.state.settings.patient_id_secret
    return shown_id(secret, ODS_CODE, fake.PATIENT_REF, kind, gp_id)


def shown_course(app: FastAPI, gp_id: str) -> str:
    return shown(app, IdKind.COURSE, gp_id)


def ordered_plans(server: fake.FakeGPConnect) -> list[str]:
    """The GP system's course ids the practice received orders (Tasks) for."""
    return [task["focus"]["reference"].split("/")[-1] for task in server.tasks.values()]


async def order(
    client: httpx.AsyncClient, patient: dict[str, Any], course_ids: list[str], key: str
) -> httpx.Response:
    return await client.post(
        f"{patient['base']}/prescriptions/requests",
        json={"course_ids": course_ids},
        headers={**patient["headers"], "Idempotency-Key": key},
    )


async def test_ordering_over_gp_connect(
    client: httpx.AsyncClient, patient: dict[str, Any], server: fake.FakeGPConnect, app: FastAPI
) -> None:
    headers, base = patient["headers"], patient["base"]
    plan_1, plan_3 = shown_course(app, "mr-plan-1"), shown_course(app, "mr-plan-3")
    courses = (await client.get(f"{base}/prescriptions/courses", headers=headers)).json()
    # The acute course is not listed; the others by the ids the API shows.
    assert [c["course_id"] for c in courses["items"]] == [plan_1, plan_3]
    assert all(c["orderable"] for c in courses["items"])

    made = await order(client, patient, [plan_1, plan_3], new_key())

    assert made.status_code == 201, made.text
    body = made.json()
    assert [(i["course_id"], i["status"]) for i in body["items"]] == [
        (plan_1, "requested"),
        (plan_3, "requested"),
    ]
    # The practice was sent its own ids.
    assert ordered_plans(server) == ["mr-plan-1", "mr-plan-3"]
    (group,) = {task_group(task) for task in server.tasks.values()}
    assert body["request_id"] == shown(app, IdKind.PRESCRIPTION_REQUEST, group)
    assert body["requested_by"] == "you"
    # The patient-facing API defines no cancel: said up front, refused without a call.
    assert (body["cancellable"], body["not_cancellable_reason"]) == (
        False,
        "not_offered_by_practice",
    )
    listed = (await client.get(f"{base}/prescriptions/requests", headers=headers)).json()
    assert [r["request_id"] for r in listed["items"]] == [body["request_id"]]
    calls = len(server.requests)
    cancel = await client.post(
        f"{base}/prescriptions/requests/{body['request_id']}/cancel", headers=headers
    )
    assert (cancel.status_code, cancel.json()["code"]) == (403, "not_available_at_practice")
    assert not [r for r in server.requests[calls:] if r.method != "GET"]
    assert len(await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, body["request_id"])) == 1

    # Now pending: a second order for it is refused by the service.
    again = await order(client, patient, [plan_1], new_key())
    assert (again.status_code, again.json()["code"]) == (409, "request_pending")
    after = (await client.get(f"{base}/prescriptions/courses", headers=headers)).json()
    assert {c["reason"] for c in after["items"]} == {"request_pending"}


async def test_an_order_broken_part_way_says_what_was_requested(
    client: httpx.AsyncClient, patient: dict[str, Any], server: fake.FakeGPConnect, app: FastAPI
) -> None:
    server.task_faults = [None, httpx.Response(503)]
    key = new_key()
    plan_1, plan_3 = shown_course(app, "mr-plan-1"), shown_course(app, "mr-plan-3")

    broken = await order(client, patient, [plan_1, plan_3], key)

    assert broken.status_code == 502, broken.text
    problem = broken.json()
    assert problem["code"] == "order_partly_placed"
    # Named by the ids the patient was shown, never the GP system's.
    assert problem["course_ids"] == [plan_1]
    assert ordered_plans(server) == ["mr-plan-1"]
    assert problem["detail"].startswith("1 of the 2 medicines you asked for were requested")
    # What was placed is the patient's to see, and audited like any request.
    listed = (
        await client.get(f"{patient['base']}/prescriptions/requests", headers=patient["headers"])
    ).json()["items"]
    assert [i["course_id"] for r in listed for i in r["items"]] == [plan_1]
    assert [r["request_id"] for r in listed] == [problem["request_id"]]
    assert len(await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, problem["request_id"]))
    # A retry with the same key replays the answer rather than ordering again.
    replay = await order(client, patient, [plan_1, plan_3], key)
    assert replay.json() == problem
    # A new attempt for both is refused for the one already requested.
    fresh = await order(client, patient, [plan_1, plan_3], new_key())
    assert (fresh.status_code, fresh.json()["course_id"]) == (409, plan_1)
    assert ordered_plans(server) == ["mr-plan-1"]


async def test_the_nominated_pharmacy_is_not_offered_over_gp_connect(
    client: httpx.AsyncClient, patient: dict[str, Any]
) -> None:
    response = await client.get(f"{patient['base']}/pharmacy", headers=patient["headers"])
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["capability"]) == (
        "not_available_at_practice",
        "nominated_pharmacy",
    )
