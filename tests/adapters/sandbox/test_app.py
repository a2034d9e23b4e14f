"""The sandbox as the app's embedded default: started by the lifespan, behind the registry."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox import find_sandbox
from app.gp.errors import GPSystemUnavailable
from app.gp.types import BookingReasonPolicy


async def test_readyz_lists_the_sandbox_practices(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {checks[f"gp:{ods}"] for ods in ("A81001", "B82002", "C83003")} == {"closed"}


async def test_registry_serves_the_sandbox(app: FastAPI, client: httpx.AsyncClient) -> None:
    registry = app.state.gp_registry
    settings = await registry.for_practice("A81001").get_practice_settings()
    assert settings.booking_reason is BookingReasonPolicy.MANDATORY
    find_sandbox(registry.for_practice("B82002")).faults.outage = True
    with pytest.raises(GPSystemUnavailable):
        await registry.for_practice("B82002").list_cancellation_reasons()
