"""Liveness, readiness (this instance's own dependencies only) and the operators' status."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.adapters.sandbox.adapter import find_sandbox
from app.config import Settings
from app.gp.errors import GPSystemUnavailable
from app.main import create_app
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock, demo_practices_with
from tests.foundation.test_metrics import samples, scrape

DOWN = "B82002"  # the practice whose GP system fails in these tests
TOKEN = "operators-only-token"


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings, clock=FakeClock())
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://t"
        ) as client,
    ):
        yield app, client


async def test_readyz_is_503_when_the_database_is_unreachable(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none")
    async with serving(settings) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "unavailable"


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], sandbox_database_url: str, tmp_path: Path
) -> Settings:
    """The demo practices, each breaker opening at the first failure, behind a token."""
    path = demo_practices_with(tmp_path, resilience={"read_attempts": 1, "failure_threshold": 1})
    return make_settings(
        sandbox_database_url=sandbox_database_url, practices_file=path, metrics_token=TOKEN
    )


async def fail_the_gp_system(app: FastAPI) -> None:
    """DOWN's GP system goes down, and its breaker opens."""
    system = app.state.gp_registry.for_practice(DOWN)
    find_sandbox(system).faults.outage = True
    with pytest.raises(GPSystemUnavailable):
        await system.list_cancellation_reasons()


async def test_one_gp_system_down_leaves_the_instance_ready_and_readyz_names_no_practice(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Every instance shares the GP systems: were they counted, one practice's outage would
    take them all out of the load balancer. Nor is any practice's state anyone's to read."""
    await fail_the_gp_system(app)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "schema": "ok"}}
    for practice in app.state.gp_registry.practices:
        assert practice not in response.text


async def test_gp_systems_health_is_for_metrics_token_holders(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await fail_the_gp_system(app)
    operator = {"Authorization": f"Bearer {TOKEN}"}
    for headers in ({}, {"Authorization": "Bearer guess"}):
        assert (await client.get("/status/gp-systems", headers=headers)).status_code == 404

    response = await client.get("/status/gp-systems", headers=operator)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    circuits = {system["ods_code"]: system["circuit"] for system in response.json()["gp_systems"]}
    # Every practice of the file is listed; only DOWN's breaker has opened.
    assert circuits == {code: "closed" for code in app.state.gp_registry.practices} | {
        DOWN: "opened"
    }
    assert {"A81001", DOWN, "C83003"} <= set(circuits)
    metrics = await scrape(client, **operator)
    assert samples(metrics, "gponline_gp_circuit_state", practice=DOWN) == 2
    assert samples(metrics, "gponline_gp_calls_total", practice=DOWN, outcome="unavailable") >= 1


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url and os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail("REQUIRE_REDIS=1 but TEST_REDIS_URL is not set")
    return url


@pytest.mark.parametrize("redis", ["running", "unreachable"])
async def test_readyz_reports_redis_where_rate_limits_use_it(
    make_settings: Callable[..., Settings], sandbox_database_url: str, engine: Any, redis: str
) -> None:
    """Reported, never a reason to be unready: limits let requests through without it
    (app.ratelimit), and every instance shares it."""
    url = _redis_url() if redis == "running" else "redis://127.0.0.1:9/0"
    if url is None:
        pytest.skip("Redis runs need TEST_REDIS_URL")
    settings = make_settings(sandbox_database_url=sandbox_database_url, rate_limit_storage_url=url)
    async with serving(settings) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 200
    expected = "ok" if redis == "running" else "unavailable"
    checks = {"database": "ok", "schema": "ok", "redis": expected}
    assert response.json() == {"status": "ok", "checks": checks}
