"""A report of an inaccuracy that is refused (422) uses up none of the day's reports."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from limits import parse

from tests.conftest import SignIn


async def test_refused_reports_spend_none_of_the_days_budget(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    url = f"/v1/patients/{user.patient_id()}/record/corrections"
    refused = [
        {"description": "My name is spelled Ann\x00"},  # no GP system can store it
        {"description": "x" * 2001},  # longer than a report may be
        {"description": "Wrong date of birth", "urgent": True},  # not a field of a report
        {"section": "allergies"},  # says nothing
    ]
    for body in refused * 2:
        response = await client.post(url, json=body, headers=user.headers)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_failed"

    # Each of the day's reports is still there to make, and then no more.
    per_day = parse(app.state.settings.rate_limit_record_correction).amount
    for number in range(per_day):
        body = {"description": f"Report {number}: my address is wrong"}
        response = await client.post(url, json=body, headers=user.headers)
        assert response.status_code == 201, (number, response.text)
    spent = await client.post(url, json={"description": "One more"}, headers=user.headers)
    assert spent.status_code == 429
    assert spent.json()["limit"] == "record_correction"
