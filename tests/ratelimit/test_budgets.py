"""Budgets per account and per client address: 429 problems with Retry-After."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.auth.models import AuthSession, SessionContext
from app.auth.service import hash_token
from tests.conftest import FakeClock, SignedInUser, SignIn
from tests.ratelimit.conftest import ACCOUNT_CEILING, BOOKINGS, MAX_SESSIONS, SIGN_INS


def assert_rate_limited(response: httpx.Response, budget: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["limit"] == budget
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert body["retry_after"] == retry_after


async def attempt_booking(client: httpx.AsyncClient, headers: dict[str, str], pid: str) -> int:
    response = await client.post(
        f"/v1/patients/{pid}/appointments",
        json={"slot_id": "no-such-slot"},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    if response.status_code == 429:
        assert_rate_limited(response, "booking")
    return response.status_code


async def test_bookings_are_limited_per_account(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    parent = await sign_in("proxy-parent")
    other = await sign_in("adult-full")
    # Booking for themself or for their child spends the same budget: it is the account's.
    targets = [parent.patient_id(), parent.acts_for("child-under-11")]
    statuses = [
        await attempt_booking(client, parent.headers, targets[i % 2]) for i in range(BOOKINGS + 1)
    ]
    assert 429 not in statuses[:BOOKINGS]
    assert statuses[BOOKINGS] == 429
    # Another account has a budget of its own.
    assert await attempt_booking(client, other.headers, other.patient_id()) != 429


async def test_every_signed_in_request_meets_the_account_ceiling(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    for _ in range(ACCOUNT_CEILING):
        assert (await client.get("/v1/auth/session", headers=user.headers)).status_code == 200
    assert_rate_limited(await client.get("/v1/me/patients", headers=user.headers), "account")


async def test_sign_in_is_limited_per_client_address(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.post("/v1/auth/session", json={"code": "bad"})).status_code
        for _ in range(SIGN_INS)
    ]
    assert 429 not in statuses
    assert_rate_limited(await client.post("/v1/auth/session", json={"code": "bad"}), "sign_in")
    # The web sign-in spends the same budget.
    assert_rate_limited(await client.get("/v1/auth/login"), "sign_in")


async def test_another_address_has_its_own_sign_in_budget(app: FastAPI, client: object) -> None:
    async def from_address(address: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return (await http.post("/v1/auth/session", json={"code": "bad"})).status_code

    for _ in range(SIGN_INS):
        assert await from_address("192.0.2.1") != 429
    assert await from_address("192.0.2.1") == 429
    assert await from_address("192.0.2.2") != 429


async def test_forwarded_values_that_are_not_addresses_share_one_sign_in_budget(
    app: FastAPI, client: object
) -> None:
    async def from_client(host: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(host, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return (await http.post("/v1/auth/session", json={"code": "bad"})).status_code

    # Made-up names, as a trusted proxy may pass on from X-Forwarded-For: inventing a new
    # one for each try gains no budget.
    for attempt in range(SIGN_INS):
        assert await from_client(f"client-{attempt}") != 429
    assert await from_client("yet-another-name") == 429
    # And an IPv6 subscriber's block is one client, whichever address within it.
    for attempt in range(SIGN_INS):
        assert await from_client(f"2001:db8:5:6::{attempt + 1:x}") != 429
    assert await from_client("2001:db8:5:6:ffff::1") == 429


async def test_signing_in_past_the_cap_ends_the_oldest_session(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    users = []
    for _ in range(MAX_SESSIONS + 1):
        users.append(await sign_in("adult-full"))
        clock.advance(timedelta(seconds=1))
    oldest, *kept = users
    assert (await client.get("/v1/auth/session", headers=oldest.headers)).status_code == 401
    for user in kept:
        assert (await client.get("/v1/auth/session", headers=user.headers)).status_code == 200
    async with app.state.sessionmaker() as db:
        revoked = await db.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == AuditAction.SESSION_REVOKED)
        )
    assert revoked == 1


async def test_an_unreachable_shared_storage_falls_back_to_the_workers_own_budget(
    client: httpx.AsyncClient, sign_in: SignIn, app: FastAPI
) -> None:
    from limits.storage import storage_from_string

    from app.ratelimit.service import RateLimiter

    limiter: RateLimiter = app.state.rate_limiter
    user = await sign_in("adult-full")
    # Nothing listens on port 1: every hit fails, and the request is not refused for it,
    # but counted in the worker's own memory (tests/ratelimit/test_storage_outage.py).
    app.state.rate_limiter = RateLimiter(
        storage_from_string("async+redis://127.0.0.1:1/0"),  # type: ignore[arg-type]
        limiter.budgets,
        namespace=limiter.namespace,
    )
    for _ in range(ACCOUNT_CEILING):
        assert (await client.get("/v1/auth/session", headers=user.headers)).status_code == 200
    assert_rate_limited(await client.get("/v1/auth/session", headers=user.headers), "account")


async def test_a_session_ended_by_the_cap_keeps_no_acting_for_context(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    users = []
    for _ in range(MAX_SESSIONS):
        users.append(user := await sign_in("proxy-parent"))
        # Each session builds (and stores) its context of who the user acts for.
        assert (await client.get("/v1/me/patients", headers=user.headers)).status_code == 200
        clock.advance(timedelta(seconds=1))
    oldest_session = await _session_id(app, users[0])
    assert await _contexts_of(app, oldest_session) == 1
    await sign_in("proxy-parent")  # past the cap: the oldest session ends
    assert (await client.get("/v1/auth/session", headers=users[0].headers)).status_code == 401
    assert await _contexts_of(app, oldest_session) == 0
    assert await _contexts_of(app, await _session_id(app, users[1])) == 1


async def _session_id(app: FastAPI, user: SignedInUser) -> str:
    async with app.state.sessionmaker() as db:
        session_id = await db.scalar(
            select(AuthSession.id).where(AuthSession.token_hash == hash_token(user.token))
        )
    assert session_id is not None
    return session_id


async def _contexts_of(app: FastAPI, session_id: str) -> int:
    async with app.state.sessionmaker() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(SessionContext)
            .where(SessionContext.session_id == session_id)
        )
    return count or 0
