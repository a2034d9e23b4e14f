"""Readiness: can this instance serve requests right now?

Only this instance's own dependencies count: its database, and Redis where rate
limits use it. GP systems do not: one practice's outage would otherwise take every
instance out of the load balancer, and with it every other practice. Their health
is in the metrics (`gponline_gp_circuit_state`, `gponline_gp_calls_total`) and in
the operators' status (`app.metrics`).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.oidc import RelyingParty
from app.health.schemas import Readiness
from app.ratelimit.service import RateLimiter

logger = logging.getLogger(__name__)

# Under the probe's own timeout (deploy/kubernetes.yaml: 3 s), so a dependency that hangs
# is reported as unavailable rather than leaving the probe to give up.
CHECK_SECONDS = 2.0


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(CHECK_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("database not reachable: %s", type(exc).__name__)
        return False
    return True


async def redis_reachable(limiter: RateLimiter) -> bool:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            reachable = await limiter.check()
    except TimeoutError:
        reachable = False
    if not reachable:
        logger.warning("rate limit storage (Redis) not reachable")
    return reachable


def _nhs_login_state(relying_party: RelyingParty | None) -> str | None:
    """What NHS login's discovery document does not offer (RS512, private_key_jwt, S256):
    sign-in would fail; the rest of the service still serves."""
    if relying_party is None:
        return None
    problems = relying_party.provider_problems
    if problems is None:
        return "unchecked"
    return "mismatch: does not offer " + ", ".join(problems) if problems else "ok"


async def readiness(
    engine: AsyncEngine,
    *,
    limiter: RateLimiter,
    uses_redis: bool,
    relying_party: RelyingParty | None,
) -> Readiness:
    """Ready while the database answers.

    Redis is reported, not required: rate limits let requests through while it is
    unreachable (`RateLimiter.hit`), so this instance can still serve, and Redis is
    shared by every instance: counting it would take them all out at once.
    """
    database_ok = await database_reachable(engine)
    checks = {"database": "ok" if database_ok else "unavailable"}
    if uses_redis:
        checks["redis"] = "ok" if await redis_reachable(limiter) else "unavailable"
    nhs_login = _nhs_login_state(relying_party)
    if nhs_login is not None:
        checks["nhs_login"] = nhs_login
    return Readiness(status="ok" if database_ok else "unavailable", checks=checks)
