"""Fixtures for staff sign-in: a dev app with the NHS CIS2 stand-in, signed in for real."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import DEV_APP_REDIRECT_URI, Settings
from app.devtools.cis2 import find_staff_persona
from app.main import create_app
from tests.auth.conftest import hidden_fields, query_of
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock

BASE_URL = "https://testserver"


def _key(path: Path) -> Path:
    path.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    return path


@pytest.fixture
def staff_settings(
    make_settings: Callable[..., Settings], sandbox_database_url: str, tmp_path: Path
) -> Settings:
    # The stand-ins mount only with APP_ENV=dev and no issuer: enabled here on purpose.
    return make_settings(
        app_env="dev",
        public_base_url=BASE_URL,
        sandbox_database_url=sandbox_database_url,
        nhs_login_private_key_file=_key(tmp_path / "nhs-login-key.pem"),
        cis2_private_key_file=_key(tmp_path / "cis2-key.pem"),
    )


@pytest.fixture
def staff_app(staff_settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    return create_app(staff_settings, clock=clock)


@pytest.fixture
async def web(staff_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(staff_app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url=BASE_URL,
        ) as client,
    ):
        yield client


async def pick_staff(
    client: httpx.AsyncClient, authorize_url: str, tag: str | None
) -> httpx.Response:
    """Do what a member of staff does on the stand-in's page: choose who, or cancel."""
    page = await client.get(authorize_url)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    if tag is None:
        form["cancel"] = "1"
    else:
        persona = find_staff_persona(tag)
        assert persona is not None
        form["persona"] = persona.uid
    action = urlsplit(authorize_url)._replace(query="").geturl()
    return await client.post(action, data=form)


async def staff_web_sign_in(
    client: httpx.AsyncClient, tag: str | None, *, return_to: str = "/docs"
) -> httpx.Response:
    """login → NHS CIS2 (stand-in) → pick a persona → callback; the callback's response."""
    start = await client.get(f"/v1/staff/auth/login?return_to={return_to}")
    assert start.status_code == 302, start.text
    back = await pick_staff(client, start.headers["location"], tag)
    assert back.status_code == 302, back.text
    return await client.get(back.headers["location"])


async def staff_app_sign_in(client: httpx.AsyncClient, tag: str) -> httpx.Response:
    """A staff app's sign-in: authorize at the stand-in itself, then hand over the code."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    nonce = secrets.token_urlsafe(16)
    params = {
        "client_id": "gp-online-staff-dev",
        "redirect_uri": DEV_APP_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile nationalrbacaccess",
        "state": "app-state",
        "nonce": nonce,
        "acr_values": "AAL3_ANY",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = str(httpx.URL(f"{BASE_URL}/dev/cis2/authorize", params=params))
    back = await pick_staff(client, url, tag)
    assert back.status_code == 302, back.text
    answer = query_of(back.headers["location"])
    assert answer["state"] == "app-state"
    return await client.post(
        "/v1/staff/auth/session",
        json={
            "code": answer["code"],
            "redirect_uri": DEV_APP_REDIRECT_URI,
            "code_verifier": verifier,
            "nonce": nonce,
            "iss": answer["iss"],
        },
    )
