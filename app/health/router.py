"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.health import service
from app.health.schemas import Liveness, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the process up?")
async def get_liveness() -> Liveness:
    """Answers 200 while the process runs; for the orchestrator's liveness probe."""
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Can this instance serve requests (its database answers, at this version's schema)?",
    responses={
        503: {
            "model": Readiness,
            "description": "The database is unavailable, or its schema is behind this version.",
        }
    },
)
async def get_readiness(request: Request) -> JSONResponse:
    """This instance's own dependencies: 503 while its database does not answer, or has
    not been migrated to this version (`checks.schema` says what to run). Redis
    (where rate limits use it) is reported but does not make the instance unready: limits
    let requests through without it. GP systems are never checked here: one practice's
    outage must not take every instance out of the load balancer; their health is in the
    metrics.
    """
    state = request.app.state
    body = await service.readiness(
        state.engine,
        state.schema_check,
        limiter=state.rate_limiter,
        uses_redis=bool(state.settings.rate_limit_storage_url),
        relying_party=state.auth.relying_party,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
