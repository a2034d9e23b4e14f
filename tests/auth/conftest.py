"""Fixtures for sign-in tests: the dev stand-in app, and NHS login mocked with respx."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona, find_persona
from app.clock import today
from app.config import Settings
from app.main import create_app
from tests.conftest import FakeClock

BASE_URL = "https://testserver"
APP_REDIRECT_URI = "gponline://auth/callback"
P9_VTR = '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
P5_AND_P9_VTR = '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm","P5.Cp.Cd","P5.Cp.Ck","P5.Cm"]'
ISSUER = "https://op.example.test"
CLIENT_ID = "gp-online-test"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def hidden_fields(page: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    return {html.unescape(k): html.unescape(v) for k, v in pairs}


@pytest.fixture
def client_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "client-key.pem"
    path.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    return path


async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url=BASE_URL,
        ) as client,
    ):
        yield client


# --- the dev stand-in, in-process ----------------------------------------------------------


@pytest.fixture
def standin_settings(make_settings: Callable[..., Settings], client_key_file: Path) -> Settings:
    # The stand-in mounts only with APP_ENV=dev and no issuer: enabled here on purpose.
    return make_settings(
        app_env="dev",
        public_base_url=BASE_URL,
        nhs_login_private_key_file=client_key_file,
        nhs_login_app_redirect_uris=APP_REDIRECT_URI,
        nhs_login_vtr=P5_AND_P9_VTR,
    )


@pytest.fixture
def standin_app(standin_settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    return create_app(standin_settings, clock=clock)


@pytest.fixture
async def web(standin_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _serve(standin_app):
        yield client


@pytest.fixture
def persona(clock: FakeClock) -> Callable[[str], Persona]:
    return lambda tag: find_persona(today(clock), tag)


async def pick_persona(
    client: httpx.AsyncClient, authorize_url: str, persona: Persona | None
) -> httpx.Response:
    """Do what a person does on the stand-in's page: choose a persona, or cancel."""
    page = await client.get(authorize_url)
    assert page.status_code == 200, page.text
    form = hidden_fields(page.text)
    if persona is None:
        form["cancel"] = "1"
    else:
        form["persona"] = persona.nhs_login_claims["sub"]
    action = urlsplit(authorize_url)._replace(query="").geturl()
    return await client.post(action, data=form)


async def web_sign_in(
    client: httpx.AsyncClient, persona: Persona | None, *, login_path: str = "/v1/auth/login"
) -> httpx.Response:
    """login → NHS login (stand-in) → pick persona → callback; returns the callback response."""
    start = await client.get(login_path)
    assert start.status_code == 302, start.text
    back = await pick_persona(client, start.headers["location"], persona)
    assert back.status_code == 302, back.text
    return await client.get(back.headers["location"])


# --- NHS login mocked with respx -------------------------------------------------------------


@dataclass
class MockOP:
    """NHS login's endpoints as respx routes, with tokens the test can spoil."""

    clock: FakeClock
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    claims: dict[str, Any] = field(default_factory=dict)
    userinfo_claims: dict[str, Any] = field(default_factory=dict)
    id_token_override: dict[str, Any] = field(default_factory=dict)
    header_override: dict[str, Any] = field(default_factory=dict)
    discovery_override: dict[str, Any] = field(default_factory=dict)
    signing_key: Any = None  # sign with this instead (a bad signature)
    raw_id_token: str | None = None
    nonce: str | None = None
    token_status: int = 200
    token_requests: list[httpx.Request] = field(default_factory=list)
    used_codes: set[str] = field(default_factory=set)
    router: respx.MockRouter | None = None

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "userinfo_endpoint": f"{ISSUER}/userinfo",
            "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
            # What NHS login's discovery document advertises.
            "id_token_signing_alg_values_supported": ["RS512"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS512"],
            "code_challenge_methods_supported": ["S256"],
            **self.discovery_override,
        }

    def id_token(self) -> str:
        if self.raw_id_token is not None:
            return self.raw_id_token
        now = int(self.clock.now().timestamp())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": self.claims["sub"],
            "iat": now,
            "exp": now + 3600,
            "nonce": self.nonce,
            "vot": self.claims["vot"],
        }
        claims.update(self.id_token_override)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": "RS512", "kid": self.key.kid, **self.header_override}
        key = self.signing_key or self.key
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    def token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_status != 200:
            error = "server_error" if self.token_status >= 500 else "invalid_client"
            return httpx.Response(self.token_status, json={"error": error})
        code = parse_qs(request.content.decode())["code"][0]
        if code in self.used_codes:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.used_codes.add(code)
        return httpx.Response(
            200,
            json={"access_token": "at-1", "token_type": "Bearer", "id_token": self.id_token()},
        )

    def userinfo(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**self.claims, **self.userinfo_claims})


@pytest.fixture
def mock_settings(make_settings: Callable[..., Settings], client_key_file: Path) -> Settings:
    return make_settings(
        public_base_url=BASE_URL,
        nhs_login_issuer=ISSUER,
        nhs_login_client_id=CLIENT_ID,
        nhs_login_private_key_file=client_key_file,
        nhs_login_app_redirect_uris=APP_REDIRECT_URI,
        nhs_login_vtr=P5_AND_P9_VTR,
        nhs_login_timeout_seconds=2,
    )


@pytest.fixture
def mock_op(clock: FakeClock, persona: Callable[[str], Persona]) -> MockOP:
    op = MockOP(clock=clock)
    op.claims = json.loads(json.dumps(persona("adult-full").nhs_login_claims))
    return op


@pytest.fixture
async def rp(
    mock_settings: Settings, engine: AsyncEngine, clock: FakeClock, mock_op: MockOP
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with NHS login mocked at the network boundary (respx)."""
    app = create_app(mock_settings, clock=clock)
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{ISSUER}/.well-known/openid-configuration").mock(
            side_effect=lambda _r: httpx.Response(200, json=mock_op.discovery())
        )
        router.get(f"{ISSUER}/.well-known/jwks.json").mock(
            side_effect=lambda _r: httpx.Response(
                200, json={"keys": [mock_op.key.as_dict(private=False)]}
            )
        )
        router.post(f"{ISSUER}/token").mock(side_effect=mock_op.token)
        router.get(f"{ISSUER}/userinfo").mock(side_effect=mock_op.userinfo)
        mock_op.router = router
        async for client in _serve(app):
            yield client
