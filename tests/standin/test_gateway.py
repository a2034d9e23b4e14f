"""The gateway in-process: a response its own document does not allow is the stand-in's
bug, answered 500 with a loud log line, never sent as it is."""

from __future__ import annotations

import logging
import uuid
from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.clock import FrozenClock
from app.standin import app as standin_app
from app.standin.app import StandInState
from app.standin.app import create_app as create_standin_app  # its clock is in `start`
from app.standin.calls import Answer, Call, Operation
from app.standin.patients import PatientDirectory
from app.standin.specification import API, specifications
from tests.frozen import SUITE_NOW


async def _wrong_permissions(call: Call) -> Answer:
    body = {
        "medicalRecord": {"effectiveDate": "2023-11-01", "current": {"accessLevel": "all"}},
        "prescriptions": {"accessLevel": "manage"},
    }
    return Answer(200, body, content_type="application/json")


async def test_a_response_the_document_does_not_allow_is_a_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Operation(API.USER_PERMISSIONS, "GET", "/Patient/{id}", _wrong_permissions)
    monkeypatch.setattr(standin_app, "OPERATIONS", (broken,))
    clock = FrozenClock(SUITE_NOW)

    async def start(stack: AsyncExitStack) -> StandInState:
        return StandInState(PatientDirectory({}, clock), specifications(), None, clock)

    app = create_standin_app(start)
    headers = {"Authorization": "Bearer any", "X-Request-ID": str(uuid.uuid4())}
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        with caplog.at_level(logging.ERROR, logger="app.standin.app"):
            response = await client.get(
                "/gp-connect/patient-facing/user-permissions/Patient/9000000009", headers=headers
            )
    assert response.status_code == 500
    assert "'all' is not one of" in response.json()["issue"][0]["diagnostics"]
    assert any("STAND-IN BUG" in record.getMessage() for record in caplog.records)
