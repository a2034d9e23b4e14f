"""Reporting an inaccuracy takes an `Idempotency-Key`, like every other write.

A retry with the same key is answered as the first request was and sends nothing again;
neither a retry nor a refused report (422) uses up one of the day's few reports.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from limits import parse
from sqlalchemy import func, select

from app.adapters.sandbox import tables
from app.adapters.sandbox.adapter import find_sandbox
from tests.conftest import SignedInUser, SignIn

PRACTICE = "A81001"


def corrections_url(user: SignedInUser) -> str:
    return f"/v1/patients/{user.patient_id()}/record/corrections"


async def report(
    client: httpx.AsyncClient, user: SignedInUser, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    """POST a report, with `key` (a new one when not given) as its Idempotency-Key."""
    headers = {**user.headers, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post(corrections_url(user), json=body, headers=headers)


def reports_per_day(app: FastAPI) -> int:
    return int(parse(app.state.settings.rate_limit_record_correction).amount)


async def messages_to_practice(app: FastAPI) -> int:
    sandbox = find_sandbox(app.state.gp_registry.for_practice(PRACTICE))
    async with sandbox.database.engine.connect() as connection:
        query = select(func.count()).where(tables.messages.c.kind == "record_correction")
        return int((await connection.execute(query)).scalar_one())


async def test_refused_reports_spend_none_of_the_days_budget(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=PRACTICE)
    refused = [
        {"description": "My name is spelled Ann\x00"},  # no GP system can store it
        {"description": "x" * 2001},  # longer than a report may be
        {"description": "Wrong date of birth", "urgent": True},  # not a field of a report
        {"section": "allergies"},  # says nothing
    ]
    for body in refused * 2:
        response = await report(client, user, body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_failed"
    # A report without a key, or with one that is not a key, is refused the same way.
    url, body = corrections_url(user), {"description": "My address is wrong"}
    for headers in (user.headers, {**user.headers, "Idempotency-Key": "no spaces allowed"}):
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"

    # Each of the day's reports is still there to make, and then no more.
    for number in range(reports_per_day(app)):
        response = await report(client, user, {"description": f"Report {number}: wrong"})
        assert response.status_code == 201, (number, response.text)
    spent = await report(client, user, {"description": "One more"})
    assert spent.status_code == 429
    assert spent.json()["limit"] == "record_correction"


async def test_a_retried_report_is_answered_as_the_first_and_sent_once(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=PRACTICE)
    body, key = {"section": "allergies", "description": "Not allergic to penicillin"}, "retry-key-1"
    first = await report(client, user, body, key)
    assert first.status_code == 201, first.text
    for _ in range(3):
        again = await report(client, user, body, key)
        assert (again.status_code, again.json()) == (201, first.json())
    assert await messages_to_practice(app) == 1
    listed = (await client.get(corrections_url(user), headers=user.headers)).json()["items"]
    assert [c["correction_id"] for c in listed] == [first.json()["correction_id"]]

    # The retries spent none of the day's reports.
    for number in range(reports_per_day(app) - 1):
        response = await report(client, user, {"description": f"Report {number}: wrong"})
        assert response.status_code == 201, (number, response.text)
    assert (await report(client, user, {"description": "One more"})).status_code == 429


async def test_the_same_key_with_another_report_is_refused_and_sends_nothing(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code=PRACTICE)
    first = await report(client, user, {"description": "My address is wrong"}, "reused-key-1")
    assert first.status_code == 201, first.text
    other = await report(client, user, {"description": "My name is wrong"}, "reused-key-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert await messages_to_practice(app) == 1
    listed = (await client.get(corrections_url(user), headers=user.headers)).json()["items"]
    assert [c["description"] for c in listed] == ["My address is wrong"]


async def test_the_route_documents_its_key_and_what_it_may_answer_because_of_it(
    app: FastAPI,
) -> None:
    operation = app.openapi()["paths"]["/v1/patients/{patient_id}/record/corrections"]["post"]
    [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["required"] is True
    examples = {
        status: set(response["content"]["application/problem+json"]["examples"])
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }
    assert "idempotency_key_reused" in examples["422"]
    assert "request_in_progress" in examples["409"]
