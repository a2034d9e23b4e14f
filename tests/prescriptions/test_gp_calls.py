"""What each prescription action costs the GP system, on a warm acting-for context.

Listing courses needs the courses and the requests (to know what is pending), asked
at once; ordering needs the same two reads inside the patient's lock, then the order;
the nominated pharmacy is one call. A regression here is a slower, costlier service.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import SignIn
from tests.patients.test_gp_calls import get, gp_calls


async def test_gp_calls_per_prescription_action(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    base = f"/v1/patients/{user.patient_id()}"
    await client.get("/v1/me/patients", headers=user.headers)  # warm the context

    assert await gp_calls(app, get(client, user, f"{base}/prescriptions/courses")) == 2
    assert await gp_calls(app, get(client, user, f"{base}/prescriptions/requests")) == 2
    assert await gp_calls(app, get(client, user, f"{base}/pharmacy")) == 1
    courses = (await client.get(f"{base}/prescriptions/courses", headers=user.headers)).json()
    amlodipine = next(c for c in courses["items"] if c["name"].startswith("Amlodipine"))

    async def order() -> httpx.Response:
        return await client.post(
            f"{base}/prescriptions/requests",
            json={"course_ids": [amlodipine["course_id"]]},
            headers={**user.headers, "Idempotency-Key": "gp-calls-order-1"},
        )

    assert await gp_calls(app, order, status=201) == 3
    # A replay is answered from the idempotency record: no GP call at all.
    assert await gp_calls(app, order, status=201) == 0
