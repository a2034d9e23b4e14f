"""Readiness: can this instance serve requests right now?

Only this instance's own dependencies count: its database (and that its schema is
this version's), and Redis where rate limits use it. GP systems do not: one
practice's outage would otherwise take every instance out of the load balancer, and
with it every other practice. Their health is in the metrics
(`gponline_gp_circuit_state`, `gponline_gp_calls_total`) and in the operators'
status (`app.metrics`).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.oidc import DISCOVERY_RETRY_SECONDS, RelyingParty
from app.health.schema import SchemaCheck, SchemaState, database_location, failure_reason
from app.health.schemas import Readiness
from app.ratelimit.service import RateLimiter

logger = logging.getLogger(__name__)

# Under the probe's own timeout (deploy/kubernetes.yaml: 3 s), so a dependency that hangs
# is reported as unavailable rather than leaving the probe to give up.
CHECK_SECONDS = 2.0


async def database_state(engine: AsyncEngine, schema: SchemaCheck) -> SchemaState | None:
    """The schema's state, or None while the database does not answer."""
    try:
        async with asyncio.timeout(CHECK_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            try:
                return await schema.state(connection)
            except SQLAlchemyError as exc:
                return SchemaState(
                    False, f"unknown: its revision cannot be read ({failure_reason(exc)})"
                )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("database not reachable: %s", type(exc).__name__)
        return None


async def check_database_at_start(
    engine: AsyncEngine, schema: SchemaCheck, *, database_url: str, wait_seconds: float
) -> None:
    """Say at start-up, in words an operator can act on, why this instance will not be
    ready. It serves on: the database may be starting too, or migrated in a moment, and
    readiness keeps traffic away until then."""
    where = database_location(database_url)
    try:
        async with asyncio.timeout(wait_seconds), engine.connect() as connection:
            state = await schema.state(connection)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.error(
            "DATABASE_URL: cannot reach the database at %s (%s). Check its host, port, name "
            "and credentials; /readyz answers 503 until it answers.",
            where,
            failure_reason(exc),
        )
        return
    if not state.ready:
        logger.error(
            "The database at %s is not ready for this version: %s. /readyz answers 503 until then.",
            where,
            state.description.removeprefix("behind: "),
        )


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
    if problems is None and relying_party.discovery_failure is not None:
        return (
            f"unavailable: {relying_party.discovery_failure}; tried again every "
            f"{DISCOVERY_RETRY_SECONDS} s and at each sign-in"
        )
    if problems is None:
        return "unchecked"
    return "mismatch: does not offer " + ", ".join(problems) if problems else "ok"


async def readiness(
    engine: AsyncEngine,
    schema: SchemaCheck,
    *,
    limiter: RateLimiter,
    uses_redis: bool,
    relying_party: RelyingParty | None,
) -> Readiness:
    """Ready while the database answers and its schema is this version's.

    Redis is reported, not required: rate limits let requests through while it is
    unreachable (`RateLimiter.hit`), so this instance can still serve, and Redis is
    shared by every instance: counting it would take them all out at once.
    """
    schema_state = await database_state(engine, schema)
    checks = {"database": "ok" if schema_state is not None else "unavailable"}
    if schema_state is not None:
        checks["schema"] = schema_state.description
    ready = schema_state is not None and schema_state.ready
    if uses_redis:
        checks["redis"] = "ok" if await redis_reachable(limiter) else "unavailable"
    nhs_login = _nhs_login_state(relying_party)
    if nhs_login is not None:
        checks["nhs_login"] = nhs_login
    return Readiness(status="ok" if ready else "unavailable", checks=checks)
