"""Reading a session is one query and no write; the idle timer moves at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, select

from app.auth.models import AuthSession
from tests.conftest import FakeClock, SignIn


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def last_seen(app: FastAPI) -> Any:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(AuthSession.last_seen_at))


async def test_reading_a_session_is_one_query_and_no_write(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")
    signed_in_at = await last_seen(app)
    clock.advance(timedelta(seconds=59))
    with statements(app) as seen:
        assert (await client.get("/v1/auth/session", headers=user.headers)).status_code == 200
    assert seen == ["SELECT"]
    assert await last_seen(app) == signed_in_at


async def test_the_idle_timer_moves_once_a_minute_has_passed(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")
    clock.advance(timedelta(minutes=1))
    with statements(app) as seen:
        assert (await client.get("/v1/auth/session", headers=user.headers)).status_code == 200
    assert seen == ["SELECT", "UPDATE"]
    assert await last_seen(app) == clock.now()


async def test_idle_expiry_stays_exact_to_the_minute(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")

    async def status() -> int:
        return (await client.get("/v1/auth/session", headers=user.headers)).status_code

    # Activity 59 s after signing in is not stored: with nothing after it, the session
    # ends 30 min after signing in, 29 min 1 s after that activity (within the minute).
    clock.advance(timedelta(seconds=59))
    assert await status() == 200
    clock.advance(timedelta(minutes=30) - timedelta(seconds=59))
    expired = await client.get("/v1/auth/session", headers=user.headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_expired"


async def test_activity_after_a_minute_restarts_the_full_idle_time(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")

    async def status() -> int:
        return (await client.get("/v1/auth/session", headers=user.headers)).status_code

    clock.advance(timedelta(seconds=61))
    assert await status() == 200  # stored: idle now ends 30 min from here
    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    assert await status() == 200
    clock.advance(timedelta(minutes=30))
    assert await status() == 401


async def test_the_session_reports_the_idle_end_that_is_enforced(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")
    first = (await client.get("/v1/auth/session", headers=user.headers)).json()
    clock.advance(timedelta(seconds=30))
    unchanged = (await client.get("/v1/auth/session", headers=user.headers)).json()
    assert unchanged["idle_expires_at"] == first["idle_expires_at"]
    clock.advance(timedelta(seconds=30))
    moved = (await client.get("/v1/auth/session", headers=user.headers)).json()
    assert moved["idle_expires_at"] > first["idle_expires_at"]


async def test_a_warm_context_costs_the_session_query_alone(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """No second query and no ORM session while this worker holds the fresh context."""
    user = await sign_in("proxy-parent")
    practice = f"/v1/patients/{user.patient_id()}/practice"
    assert (await client.get(practice, headers=user.headers)).status_code == 200  # warms it
    opened: list[object] = []
    sessionmaker = app.state.sessionmaker

    def counting_sessionmaker() -> Any:
        opened.append(sessionmaker)
        return sessionmaker()

    app.state.sessionmaker = counting_sessionmaker
    try:
        with statements(app) as seen:
            for path in ("/v1/me/patients", practice):
                assert (await client.get(path, headers=user.headers)).status_code == 200
    finally:
        app.state.sessionmaker = sessionmaker
    assert seen == ["SELECT", "SELECT"]
    assert opened == []
