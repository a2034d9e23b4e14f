"""The sandbox as the app's embedded default: started by the lifespan, behind the registry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.adapters.sandbox import find_sandbox
from app.gp.errors import GPSystemUnavailable
from app.gp.types import BookingReasonPolicy
from tests.conftest import SignIn

TRANSACTION = {"BEGIN", "ROLLBACK", "COMMIT"}


async def test_the_status_lists_the_sandbox_practices(client: httpx.AsyncClient) -> None:
    response = await client.get("/status/gp-systems")
    assert response.status_code == 200
    circuits = {system["ods_code"]: system["circuit"] for system in response.json()["gp_systems"]}
    # And the practice the default file reaches over GP Connect (the stand-in's D84004).
    assert circuits == dict.fromkeys(("A81001", "B82002", "C83003", "D84004"), "closed")


async def test_registry_serves_the_sandbox(app: FastAPI, client: httpx.AsyncClient) -> None:
    registry = app.state.gp_registry
    settings = await registry.for_practice("A81001").get_practice_settings()
    assert settings.booking_reason is BookingReasonPolicy.MANDATORY
    find_sandbox(registry.for_practice("B82002")).faults.outage = True
    with pytest.raises(GPSystemUnavailable):
        await registry.for_practice("B82002").list_cancellation_reasons()


async def test_the_sandboxs_reads_are_single_statements_outside_a_transaction(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """A read is one round trip: no BEGIN before it and no ROLLBACK after (PostgreSQL)."""
    engine = find_sandbox(app.state.gp_registry.for_practice("A81001")).database.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("asyncpg's query log shows the transaction statements")
    user = await sign_in("adult-full", ods_code="A81001")
    base = f"/v1/patients/{user.patient_id()}"
    assert (await client.get("/v1/me/patients", headers=user.headers)).status_code == 200
    simple_queries: list[str] = []
    logging: set[int] = set()

    def log_queries(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if id(driver) not in logging:
            logging.add(id(driver))
            driver.add_query_logger(lambda query: simple_queries.append(query.query))

    event.listen(engine.sync_engine, "checkout", log_queries)
    try:
        for path in ("slots?limit=20", "appointments", "prescriptions/courses", "record"):
            response = await client.get(f"{base}/{path}", headers=user.headers)
            assert response.status_code == 200, response.text
    finally:
        event.remove(engine.sync_engine, "checkout", log_queries)
    assert logging  # the reads above went through the sandbox's pool
    assert not [q for q in simple_queries if q.split()[0].upper().rstrip(";") in TRANSACTION]
