"""Prometheus metrics: requests by route template, GP system calls, breakers, limits, sessions.

Requests are labelled by the route's template (`/v1/patients/{patient_id}/slots`),
never the raw path, which holds patient ids; requests that match no route share
one label. With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` (an
empty directory, emptied at each start; `python -m app` does both) and every
worker's samples are summed at each scrape.

Where `/metrics` is served is a setting: on a port of its own (`METRICS_PORT`,
started by `python -m app`, bound to `METRICS_HOST`), and/or on the main port
behind a bearer token (`METRICS_TOKEN`). With neither, `/metrics` is served on
the main port only outside `prod`. `/status/gp-systems` (each practice's circuit
state, as JSON) is served on the main port with it, behind the same token.
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import AppEnv, Settings
from app.problems import NotFound

UNMATCHED_ROUTE = "unmatched"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "gponline_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "gponline_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
GP_CALLS = Counter(
    "gponline_gp_calls",
    "Calls to GP systems, by practice (ODS code), kind (read/write) and outcome.",
    ["practice", "kind", "outcome"],
)
GP_LATENCY = Histogram(
    "gponline_gp_call_duration_seconds",
    "Time a GP system call took (retries included), by practice and kind.",
    ["practice", "kind"],
    buckets=_LATENCY_BUCKETS,
)
CIRCUIT_STATE = Gauge(
    "gponline_gp_circuit_state",
    "Each practice's circuit breaker: 0 closed, 1 half-open, 2 open (the worst worker's).",
    ["practice"],
    multiprocess_mode="max",
)
RATE_LIMIT_REFUSALS = Counter(
    "gponline_rate_limit_refusals",
    "Requests refused with 429, by budget.",
    ["budget"],
)
SESSIONS_CREATED = Counter(
    "gponline_sessions_created",
    "Sessions started, by how the token is carried (cookie or bearer).",
    ["via"],
)

CIRCUIT_VALUES = {"closed": 0, "half-opened": 1, "opened": 2}

GPOutcome = Literal["ok", "refused", "unavailable", "error"]


def observe_gp_call(practice: str, kind: str, outcome: GPOutcome, seconds: float) -> None:
    GP_CALLS.labels(practice, kind, outcome).inc()
    GP_LATENCY.labels(practice, kind).observe(seconds)


def observe_circuit(practice: str, state: str) -> None:
    CIRCUIT_STATE.labels(practice).set(CIRCUIT_VALUES.get(state, 2))


def registry() -> CollectorRegistry:
    """The registry to expose: every worker's samples when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    return REGISTRY


class RequestMetrics:
    """Counts and times every HTTP request by its route template (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - started)


def serves_metrics_on_main_port(settings: Settings) -> bool:
    return settings.metrics_token is not None or (
        settings.metrics_port is None and settings.app_env is not AppEnv.PROD
    )


def require_metrics_token(request: Request) -> None:
    """Behind `METRICS_TOKEN` when it is set: what operators see is not for everyone."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        presented = request.headers.get("authorization", "")
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise NotFound()  # not "unauthorised": the endpoint's existence is not advertised


# Served where `/metrics` is (`serves_metrics_on_main_port`), behind the same token.
router = APIRouter(dependencies=[Depends(require_metrics_token)])


@router.get("/metrics", include_in_schema=False)
async def get_metrics(request: Request) -> Response:
    """Prometheus text format."""
    circuits = await request.app.state.gp_registry.circuit_states()
    for practice, state in circuits.items():
        observe_circuit(practice, state)
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


@router.get("/status/gp-systems", include_in_schema=False)
async def get_gp_systems_status(request: Request) -> JSONResponse:
    """Each practice's GP system as this worker sees it: its circuit breaker's state
    (`closed`, `opened` while failing, `half-opened` while trying again). For operators;
    readiness leaves GP systems out, so that one practice's outage cannot take every
    instance out of the load balancer."""
    circuits: dict[str, str] = await request.app.state.gp_registry.circuit_states()
    return JSONResponse(
        {"gp_systems": [{"ods_code": ods, "circuit": state} for ods, state in circuits.items()]},
        headers={"Cache-Control": "no-store"},
    )
