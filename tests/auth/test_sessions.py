"""Sessions: lifetimes on the injected clock, sign-out, CSRF, and what the database holds."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona
from app.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.auth.credentials import credentials_cipher, decrypt_credentials
from app.auth.deps import CurrentSession
from app.auth.models import Account, AuthSession
from app.config import Settings
from app.main import create_app
from app.tables import metadata
from tests.auth.conftest import web_sign_in
from tests.auth.test_end_to_end import native_code
from tests.conftest import FakeClock

# An unsafe route for these tests alone, to show where CSRF applies.
unsafe = APIRouter()


@unsafe.post("/test-only/change")
async def change_something(signed_in: CurrentSession) -> dict[str, str]:
    return {"via": signed_in.via}


@pytest.fixture
def standin_app(standin_settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    app = create_app(standin_settings, clock=clock)
    app.include_router(unsafe)
    return app


@pytest.fixture
async def signed_in_web(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> httpx.AsyncClient:
    callback = await web_sign_in(web, persona("adult-full"))
    assert callback.status_code == 303, callback.text
    return web


async def _bearer(web: httpx.AsyncClient, persona: Persona) -> dict[str, str]:
    created = await web.post("/v1/auth/session", json=await native_code(web, persona))
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['access_token']}"}


def _csrf(web: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": web.cookies[CSRF_COOKIE]}


async def test_not_signed_in(web: httpx.AsyncClient) -> None:
    response = await web.get("/v1/auth/session")
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"
    forged = await web.get("/v1/auth/session", headers={"Authorization": "Bearer forged"})
    assert forged.json()["code"] == "not_signed_in"


async def test_idle_timeout_is_30_minutes_of_inactivity(
    signed_in_web: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(3):  # activity keeps it alive well past 30 minutes in total
        clock.advance(timedelta(minutes=29))
        assert (await signed_in_web.get("/v1/auth/session")).status_code == 200
    clock.advance(timedelta(minutes=30))
    expired = await signed_in_web.get("/v1/auth/session")
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_expired"


async def test_the_idle_deadline_moves_with_activity(
    signed_in_web: httpx.AsyncClient, clock: FakeClock
) -> None:
    first = (await signed_in_web.get("/v1/auth/session")).json()
    clock.advance(timedelta(minutes=10))
    second = (await signed_in_web.get("/v1/auth/session")).json()
    assert second["idle_expires_at"] > first["idle_expires_at"]
    assert second["expires_at"] == first["expires_at"]


async def test_absolute_timeout_is_12_hours_whatever_the_activity(
    signed_in_web: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(12 * 3 - 1):
        clock.advance(timedelta(minutes=20))
        assert (await signed_in_web.get("/v1/auth/session")).status_code == 200
    clock.advance(timedelta(minutes=20))  # exactly 12 hours after signing in
    expired = await signed_in_web.get("/v1/auth/session")
    assert expired.json()["code"] == "session_expired"


async def test_bearer_sessions_expire_too(
    web: httpx.AsyncClient, clock: FakeClock, persona: Callable[[str], Persona]
) -> None:
    headers = await _bearer(web, persona("adult-full"))
    clock.advance(timedelta(minutes=31))
    expired = await web.get("/v1/auth/session", headers=headers)
    assert expired.json()["code"] == "session_expired"


async def test_logout_with_a_cookie_needs_csrf_and_revokes_at_once(
    signed_in_web: httpx.AsyncClient,
) -> None:
    stolen = signed_in_web.cookies[SESSION_COOKIE]
    refused = await signed_in_web.post("/v1/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_token_invalid"

    done = await signed_in_web.post("/v1/auth/logout", headers=_csrf(signed_in_web))
    assert done.status_code == 204
    cleared = done.headers.get_list("set-cookie")
    assert any(c.startswith(f'{SESSION_COOKIE}=""') and "Max-Age=0" in c for c in cleared)
    assert (await signed_in_web.get("/v1/auth/session")).json()["code"] == "not_signed_in"
    # The old cookie value, replayed, is refused: revocation is immediate.
    signed_in_web.cookies.set(SESSION_COOKIE, stolen)
    replay = await signed_in_web.get("/v1/auth/session")
    assert replay.json()["code"] == "not_signed_in"
    # Signing out again is harmless.
    assert (await signed_in_web.post("/v1/auth/logout")).status_code == 204


async def test_logout_with_a_bearer_token(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    headers = await _bearer(web, persona("adult-full"))
    assert (await web.post("/v1/auth/logout", headers=headers)).status_code == 204
    refused = await web.get("/v1/auth/session", headers=headers)
    assert refused.json()["code"] == "not_signed_in"


@pytest.mark.parametrize("case", ["no header", "wrong header", "no csrf cookie", "other session"])
async def test_csrf_is_enforced_for_cookie_sessions_on_unsafe_methods(
    signed_in_web: httpx.AsyncClient, case: str
) -> None:
    headers = _csrf(signed_in_web)
    if case == "no header":
        headers = {}
    elif case == "wrong header":
        headers = {"X-CSRF-Token": "0" * 64}
    elif case == "no csrf cookie":
        signed_in_web.cookies.delete(CSRF_COOKIE)
    else:  # a token and cookie pair an attacker could have planted from their own session
        signed_in_web.cookies.set(CSRF_COOKIE, "a" * 64)
        headers = {"X-CSRF-Token": "a" * 64}
    response = await signed_in_web.post("/test-only/change", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_token_invalid"


async def test_csrf_passes_with_the_token_from_the_session(
    signed_in_web: httpx.AsyncClient,
) -> None:
    token = (await signed_in_web.get("/v1/auth/session")).json()["csrf_token"]
    response = await signed_in_web.post("/test-only/change", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    assert response.json() == {"via": "cookie"}


async def test_bearer_requests_need_no_csrf(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    headers = await _bearer(web, persona("adult-full"))
    response = await web.post("/test-only/change", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"via": "bearer"}


async def test_a_cookie_token_is_not_a_bearer_token(signed_in_web: httpx.AsyncClient) -> None:
    token = signed_in_web.cookies[SESSION_COOKIE]
    signed_in_web.cookies.clear()
    response = await signed_in_web.post(
        "/test-only/change", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json()["code"] == "not_signed_in"


async def test_every_sign_in_starts_a_new_session(
    web: httpx.AsyncClient, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    olivia = persona("adult-full")
    await web_sign_in(web, olivia)
    first = web.cookies[SESSION_COOKIE]
    await web_sign_in(web, olivia)
    second = web.cookies[SESSION_COOKIE]
    assert first != second
    async with engine.connect() as connection:
        sessions = (await connection.execute(select(AuthSession))).all()
        accounts = (await connection.execute(select(Account))).all()
    assert len(sessions) == 2
    assert len(accounts) == 1


async def test_only_the_token_hash_is_stored(
    web: httpx.AsyncClient, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    await web_sign_in(web, persona("adult-full"))
    cookie_token = web.cookies[SESSION_COOKIE]
    bearer_token = (await _bearer(web, persona("adult-full")))["Authorization"][7:]
    dump = []
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(text(f"SELECT * FROM {table.name}"))).all()  # noqa: S608
            dump.extend(str(value) for row in rows for value in row)
        hashes = set((await connection.execute(select(AuthSession.token_hash))).scalars())
    everything = "\n".join(dump)
    for token in (cookie_token, bearer_token):
        assert token not in everything
        assert hashlib.sha256(token.encode()).hexdigest() in hashes


async def test_gp_credentials_are_encrypted_at_rest(
    web: httpx.AsyncClient,
    engine: AsyncEngine,
    persona: Callable[[str], Persona],
    standin_settings: Settings,
) -> None:
    olivia = persona("adult-full")
    credentials = olivia.nhs_login_claims["gp_integration_credentials"]
    await web_sign_in(web, olivia)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(Account.gp_credentials_encrypted))).scalar_one()
    assert stored is not None
    assert credentials["gp_linkage_key"] not in stored
    assert credentials["gp_user_id"] not in stored
    readable = decrypt_credentials(credentials_cipher(standin_settings), stored)
    assert readable.gp_linkage_key == credentials["gp_linkage_key"]
    assert readable.ods_code == olivia.ods_code


async def test_a_p5_user_has_no_gp_credentials_and_may_be_unlinked(
    web: httpx.AsyncClient, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    callback = await web_sign_in(web, persona("p5-identity"))
    assert callback.status_code == 303
    async with engine.connect() as connection:
        account = (await connection.execute(select(Account))).one()
    assert account.identity_level == "P5"
    assert account.gp_credentials_encrypted is None
