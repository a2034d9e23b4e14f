"""Prometheus metrics: by route template, GP calls, refusals, sessions; workers summed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.config import AppEnv, Settings
from app.main import create_app
from app.metrics import serves_metrics_on_main_port
from tests.conftest import FakeClock, SignIn
from tests.live_server import free_port, live_server

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match["value"])
    return total


async def scrape(client: httpx.AsyncClient, **headers: str) -> str:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_labelled_by_route_template_never_by_path(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    route = "/v1/patients/{patient_id}/practice"
    before = samples(
        await scrape(client), "gponline_http_requests_total", route=route, status="200"
    )
    path = f"/v1/patients/{user.patient_id()}/practice"
    for _ in range(3):
        assert (await client.get(path, headers=user.headers)).status_code == 200
    text = await scrape(client)
    assert samples(text, "gponline_http_requests_total", route=route, status="200") >= before + 3
    assert user.patient_id() not in text
    assert samples(text, "gponline_http_request_duration_seconds_count", route=route) >= 3
    # A path that matches no route is counted under one label, whatever it holds.
    await client.get("/v1/patients/someone/nothing-here")
    text = await scrape(client)
    assert "someone" not in text
    assert samples(text, "gponline_http_requests_total", route="unmatched", status="404") >= 1


async def test_gp_calls_sessions_and_circuits_are_counted(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    before = await scrape(client)
    user = await sign_in("adult-full")
    await client.get(f"/v1/patients/{user.patient_id()}/slots", headers=user.headers)
    after = await scrape(client)
    practice = user.persona.ods_code
    assert samples(after, "gponline_sessions_created_total", via="bearer") == (
        samples(before, "gponline_sessions_created_total", via="bearer") + 1
    )
    calls = samples(after, "gponline_gp_calls_total", practice=practice, outcome="ok")
    assert calls > samples(before, "gponline_gp_calls_total", practice=practice, outcome="ok")
    assert samples(after, "gponline_gp_call_duration_seconds_count", practice=practice) > 0
    assert f'gponline_gp_circuit_state{{practice="{practice}"}} 0.0' in after


async def test_rate_limit_refusals_are_counted(
    make_settings: Callable[..., Settings], sandbox_database_url: str, engine: object
) -> None:
    app = create_app(
        make_settings(sandbox_database_url=sandbox_database_url, rate_limit_sign_in="1/minute"),
        clock=FakeClock(),
    )
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        before = samples(
            await scrape(client), "gponline_rate_limit_refusals_total", budget="sign_in"
        )
        await client.post("/v1/auth/session", json={})
        assert (await client.post("/v1/auth/session", json={})).status_code == 429
        text = await scrape(client)
    after = samples(text, "gponline_rate_limit_refusals_total", budget="sign_in")
    assert after == before + 1


async def test_a_metrics_token_hides_metrics_from_everyone_else(
    make_settings: Callable[..., Settings], sandbox_database_url: str, engine: object
) -> None:
    app: FastAPI = create_app(
        make_settings(sandbox_database_url=sandbox_database_url, metrics_token="scrape-me-please"),
        clock=FakeClock(),
    )
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        assert (await client.get("/metrics")).status_code == 404
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 404
        # Nor does another spelling of the path redirect to it.
        for path in ("/metrics/", "/status/gp-systems/"):
            answer = await client.get(path)
            assert (answer.status_code, answer.headers.get("location")) == (404, None), path
        await scrape(client, Authorization="Bearer scrape-me-please")


def test_where_metrics_are_served(make_settings: Callable[..., Settings]) -> None:
    assert serves_metrics_on_main_port(make_settings())
    assert not serves_metrics_on_main_port(make_settings(metrics_port=9100))
    assert serves_metrics_on_main_port(make_settings(metrics_port=9100, metrics_token="t" * 32))
    production_like = make_settings().model_copy(update={"app_env": AppEnv.PROD})
    assert not serves_metrics_on_main_port(production_like)


def test_two_workers_are_summed_on_the_metrics_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {
        "WEB_CONCURRENCY": "2",
        "METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    requests = 20
    with live_server(tmp_path, env=env) as server:
        for _ in range(requests):
            # A new connection each time, so that either worker may answer.
            assert httpx.get(f"{server.base_url}/v1/auth/session").status_code == 401
        # Not on the main port: the metrics have a port of their own.
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert list((tmp_path / "metrics").glob("counter_*.db")), "workers wrote their samples"
    counted = samples(
        text, "gponline_http_requests_total", route="/v1/auth/session", method="GET", status="401"
    )
    assert counted == requests
