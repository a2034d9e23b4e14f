"""Signing in through the development NHS login stand-in, as a browser and as an app."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona
from app.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from app.auth.deps import P9Session
from app.auth.models import Account
from app.config import Settings
from app.main import create_app
from tests.auth.conftest import (
    APP_REDIRECT_URI,
    BASE_URL,
    P5_AND_P9_VTR,
    _serve,
    hidden_fields,
    query_of,
    web_sign_in,
)
from tests.conftest import FakeClock

# A P9-only route for these tests alone: the service ships no fake endpoint.
p9_only = APIRouter()


@p9_only.get("/test-only/p9")
async def p9_only_route(signed_in: P9Session) -> dict[str, str | None]:
    return {"identity_level": signed_in.identity_level, "gp_user_ref": signed_in.gp_user_ref}


@pytest.fixture
def standin_app(standin_settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    app = create_app(standin_settings, clock=clock)
    app.include_router(p9_only)
    return app


async def test_web_sign_in_sets_a_host_cookie_and_returns_to_the_page(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    olivia = persona("adult-full")
    start = await web.get("/v1/auth/login", params={"return_to": "/appointments?view=list"})
    assert start.status_code == 302
    authorize = query_of(start.headers["location"])
    assert authorize["response_type"] == "code"
    assert authorize["response_mode"] == "query"
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["vtr"] == P5_AND_P9_VTR
    assert authorize["state"] and authorize["nonce"]
    login_cookie = start.headers["set-cookie"]
    assert login_cookie.startswith("__Host-gp_login=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag.lower() in login_cookie.lower()

    from tests.auth.conftest import pick_persona

    back = await pick_persona(web, start.headers["location"], olivia)
    callback = await web.get(back.headers["location"])
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/appointments?view=list"
    cookies = callback.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag.lower() in session_cookie.lower()
    assert "domain" not in session_cookie.lower()
    csrf_cookie = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "httponly" not in csrf_cookie.lower()

    described = await web.get("/v1/auth/session")
    assert described.status_code == 200, described.text
    body = described.json()
    assert body["via"] == "cookie"
    assert body["identity_level"] == "P9"
    assert body["ods_code"] == olivia.ods_code
    assert body["gp_linked"] is True
    assert body["csrf_token"] == web.cookies[CSRF_COOKIE]

    reached = await web.get("/test-only/p9")
    assert reached.status_code == 200
    assert reached.json() == {"identity_level": "P9", "gp_user_ref": olivia.patient_ref}


async def test_account_records_the_linkage(
    web: httpx.AsyncClient, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    olivia = persona("adult-full")
    await web_sign_in(web, olivia)
    async with engine.connect() as connection:
        account = (await connection.execute(select(Account))).one()
    assert account.nhs_login_sub == olivia.nhs_login_claims["sub"]
    assert account.nhs_number == olivia.nhs_number
    assert account.identity_level == "P9"
    assert account.ods_code == olivia.ods_code
    assert account.gp_user_ref == olivia.patient_ref


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def native_code(
    client: httpx.AsyncClient, persona: Persona, *, vtr: str = P5_AND_P9_VTR
) -> dict[str, str]:
    """What an app does itself: the authorize request, a persona picked, the code read."""
    verifier, challenge = _pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "client_id": "gp-online-dev",
        "redirect_uri": APP_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile gp_registration_details gp_integration_credentials",
        "state": state,
        "nonce": nonce,
        "vtr": vtr,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = await client.get("/dev/nhs-login/authorize?" + urlencode(params))
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "persona": persona.nhs_login_claims["sub"]}
    back = await client.post("/dev/nhs-login/authorize", data=form)
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(APP_REDIRECT_URI)
    returned = query_of(location)
    assert returned["state"] == state  # the app's own state check
    return {
        "code": returned["code"],
        "redirect_uri": APP_REDIRECT_URI,
        "code_verifier": verifier,
        "nonce": nonce,
    }


async def test_native_app_gets_a_bearer_token(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    exchange = await native_code(web, persona("adult-full"))
    created = await web.post("/v1/auth/session", json=exchange)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 12 * 3600
    assert body["idle_timeout"] == 30 * 60
    assert body["identity_level"] == "P9"
    assert len(body["access_token"]) >= 43  # 256 bits, url-safe base64
    assert not web.cookies.get(SESSION_COOKIE)

    headers = {"Authorization": f"Bearer {body['access_token']}"}
    described = await web.get("/v1/auth/session", headers=headers)
    assert described.json()["via"] == "bearer"
    assert described.json()["csrf_token"] is None
    reached = await web.get("/test-only/p9", headers=headers)
    assert reached.status_code == 200


async def test_the_same_code_cannot_be_exchanged_twice(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    exchange = await native_code(web, persona("adult-full"))
    assert (await web.post("/v1/auth/session", json=exchange)).status_code == 201
    again = await web.post("/v1/auth/session", json=exchange)
    assert again.status_code == 401
    assert again.json()["code"] == "login_failed"


async def test_p5_user_signs_in_but_is_sent_to_verify_for_p9_routes(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    daniel = persona("p5-identity")
    callback = await web_sign_in(web, daniel)
    assert callback.status_code == 303, callback.text
    described = (await web.get("/v1/auth/session")).json()
    assert described["identity_level"] == "P5"

    refused = await web.get("/test-only/p9", params={"x": "1"})
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["code"] == "identity_verification_required"
    step_up = problem["step_up_url"]
    assert step_up.startswith("/v1/auth/login?")
    step_up_query = query_of(step_up)
    assert step_up_query["vtr"] == '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
    assert step_up_query["return_to"] == "/test-only/p9?x=1"

    # The step-up asks NHS login for P9 only: the P5 persona cannot satisfy it.
    start = await web.get(step_up)
    assert start.status_code == 302
    assert query_of(start.headers["location"])["vtr"] == '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
    page = await web.get(start.headers["location"])
    assert "identity checked to P5 (medium) only: this sign-in needs P9 (high)" in page.text


async def test_cancelling_at_nhs_login_comes_back_calmly(web: httpx.AsyncClient) -> None:
    start = await web.get("/v1/auth/login", params={"return_to": "/prescriptions"})
    from tests.auth.conftest import pick_persona

    back = await pick_persona(web, start.headers["location"], None)
    assert query_of(back.headers["location"])["error"] == "access_denied"
    callback = await web.get(back.headers["location"])
    assert callback.status_code == 303
    assert callback.headers["location"] == "/prescriptions?login_error=login_cancelled"
    assert (await web.get("/v1/auth/session")).json()["code"] == "not_signed_in"


async def test_access_denied_without_a_sign_in_in_progress_is_a_login_cancelled_problem(
    web: httpx.AsyncClient,
) -> None:
    response = await web.get("/v1/auth/callback", params={"error": "access_denied", "state": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "login_cancelled"


@pytest.fixture
async def p5_only_web(
    make_settings: Callable[..., Settings], client_key_file: object, engine: AsyncEngine,
    clock: FakeClock,
) -> AsyncIterator[httpx.AsyncClient]:  # fmt: skip
    settings = make_settings(
        app_env="dev",
        public_base_url=BASE_URL,
        nhs_login_private_key_file=client_key_file,
    )
    async for client in _serve(create_app(settings, clock=clock)):
        yield client


async def test_default_vtr_is_p9_only(p5_only_web: httpx.AsyncClient) -> None:
    start = await p5_only_web.get("/v1/auth/login")
    assert query_of(start.headers["location"])["vtr"] == '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
    assert urlsplit(start.headers["location"]).path == "/dev/nhs-login/authorize"


async def test_signing_in_on_a_browser_ends_the_session_it_already_held(
    web: httpx.AsyncClient, persona: Callable[[str], Persona]
) -> None:
    # A shared computer: the next person signs in over the first one's session.
    assert (await web_sign_in(web, persona("adult-full"))).status_code == 303
    first = web.cookies[SESSION_COOKIE]
    assert (await web_sign_in(web, persona("proxy-parent"))).status_code == 303
    second = web.cookies[SESSION_COOKIE]
    assert second != first

    web.cookies.clear()
    replaced = await web.get("/v1/auth/session", headers={"Cookie": f"{SESSION_COOKIE}={first}"})
    assert replaced.status_code == 401
    current = await web.get("/v1/auth/session", headers={"Cookie": f"{SESSION_COOKIE}={second}"})
    assert current.status_code == 200
