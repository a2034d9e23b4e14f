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
    summary="Can the service handle requests (database and GP systems reachable)?",
    responses={503: {"model": Readiness, "description": "A dependency is unavailable."}},
)
async def get_readiness(request: Request) -> JSONResponse:
    """Whether the database answers and each practice's GP system is reachable (with its
    circuit state); 503 when not ready.
    """
    database_ok = await service.database_reachable(request.app.state.engine)
    checks = {"database": "ok" if database_ok else "unavailable"}
    # An open breaker means that practice's GP system is failing; the service
    # still serves the others, so it stays ready and reports the state.
    circuits = await request.app.state.gp_registry.circuit_states()
    checks.update({f"gp:{ods_code}": state for ods_code, state in circuits.items()})
    # What NHS login's discovery document does not offer (RS512, private_key_jwt, S256)
    # is reported here; sign-in would fail, the rest of the service still serves.
    relying_party = request.app.state.auth.relying_party
    if relying_party is not None:
        problems = relying_party.provider_problems
        checks["nhs_login"] = (
            "unchecked"
            if problems is None
            else "mismatch: does not offer " + ", ".join(problems)
            if problems
            else "ok"
        )
    ready = database_ok
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
