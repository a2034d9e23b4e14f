"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.health import service
from app.health.schemas import Liveness, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the process up?")
async def get_liveness() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Can the service handle requests (database and GP systems reachable)?",
    responses={503: {"model": Readiness, "description": "A dependency is unavailable."}},
)
async def get_readiness(request: Request) -> JSONResponse:
    checks = {
        "database": "ok"
        if await service.database_reachable(request.app.state.engine)
        else "unavailable"
    }
    ready = all(state == "ok" for state in checks.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
