"""Patient-facing calls keep working for the session's life: once the NHS login ID token
has expired, NHS login's refresh token (kept encrypted with the session) gets a fresh
one, which the platform exchange takes. Without a refresh token, or when NHS login
refuses it, the patient signs in again. The real database; NHS login and the platform's
token endpoint mocked with respx."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.gpconnect.patient_access import NHSLoginTokenExchange
from app.auth.credentials import credentials_cipher, decrypt_text
from app.auth.models import AuthSession
from app.auth.nhs_login_tokens import SessionIdTokens, presenting
from app.auth.oidc import RelyingParty, RelyingPartyConfig, vectors_from_json
from app.auth.runtime import nhs_login_refresher
from app.auth.service import prune_sessions
from app.config import Settings
from app.db import create_sessionmaker
from app.gp.errors import GPSystemUnavailable, SignInAgain
from tests.auth.conftest import APP_REDIRECT_URI, CLIENT_ID, ISSUER, MockOP
from tests.conftest import FakeClock

PLATFORM_TOKEN_URL = "https://platform.test/oauth2/token"
SESSION_LIFE = timedelta(hours=11, minutes=50)
IDLE_STEP = timedelta(minutes=25)  # the patient is active well within 30 minutes idle


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@dataclass
class Refreshing:
    """NHS login's token endpoint: the code grant (`MockOP`) plus the refresh grant, which
    rotates the refresh token and gives a fresh ID token for the same sign-in."""

    op: MockOP
    first_refresh_token: str | None = "rt-1"
    answer: httpx.Response | None = None  # instead of a good refresh
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    live_refresh_token: str | None = None
    refreshes: list[httpx.Request] = field(default_factory=list)
    issued_id_tokens: list[str] = field(default_factory=list)

    async def token(self, request: httpx.Request) -> httpx.Response:
        form = form_of(request)
        if form["grant_type"] != "refresh_token":
            response = self.op.token(request)
            if response.status_code == 200 and self.first_refresh_token is not None:
                self.live_refresh_token = self.first_refresh_token
                response = httpx.Response(
                    200, json={**response.json(), "refresh_token": self.first_refresh_token}
                )
            return response
        self.refreshes.append(request)
        await asyncio.sleep(0)  # let a concurrent call run while this one is answered
        if self.answer is not None:
            return self.answer
        if form.get("refresh_token") != self.live_refresh_token:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.live_refresh_token = f"rt-{len(self.refreshes) + 1}"
        id_token = self.id_token()
        self.issued_id_tokens.append(id_token)
        return httpx.Response(
            200,
            json={
                "access_token": "at-refreshed",
                "token_type": "Bearer",
                "refresh_token": self.live_refresh_token,
                "id_token": id_token,
            },
        )

    def id_token(self) -> str:
        now = int(self.op.clock.now().timestamp())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": self.op.claims["sub"],
            "iat": now,
            "exp": now + 3600,
            "vot": self.op.claims["vot"],
            **self.id_token_claims,
        }
        header = {"alg": "RS512", "kid": self.op.key.kid}
        return jwt.encode(header, claims, self.op.key, algorithms=["RS512"])


@dataclass
class Platform:
    """The NHS API platform's token endpoint: each exchange gives a new access token."""

    subject_tokens: list[str] = field(default_factory=list)

    def token(self, request: httpx.Request) -> httpx.Response:
        self.subject_tokens.append(form_of(request)["subject_token"])
        body = {"access_token": f"access-{len(self.subject_tokens)}", "expires_in": "599"}
        return httpx.Response(200, json=body)


@dataclass
class World:
    rp: httpx.AsyncClient
    engine: AsyncEngine
    clock: FakeClock
    nhs_login: Refreshing
    platform: Platform
    id_tokens: SessionIdTokens
    exchange: NHSLoginTokenExchange
    settings: Settings

    async def sign_in(self) -> dict[str, str]:
        self.nhs_login.op.nonce = "app-nonce"
        body = {"code": f"code-{len(self.nhs_login.op.used_codes)}", "nonce": "app-nonce",
                "redirect_uri": APP_REDIRECT_URI, "code_verifier": "v" * 43}  # fmt: skip
        created = await self.rp.post("/v1/auth/session", json=body)
        assert created.status_code == 201, created.text
        return {"Authorization": f"Bearer {created.json()['access_token']}"}

    async def stay_active_until(self, headers: dict[str, str], age: timedelta) -> None:
        """The patient uses the service every 25 minutes: the session stays live."""
        started = self.clock.now()
        while self.clock.now() - started + IDLE_STEP <= age:
            self.clock.advance(IDLE_STEP)
            assert (await self.rp.get("/v1/auth/session", headers=headers)).status_code == 200
        self.clock.advance(age - (self.clock.now() - started))
        assert (await self.rp.get("/v1/auth/session", headers=headers)).status_code == 200

    async def row(self) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(select(AuthSession))).one()

    def decrypt(self, stored: str) -> str:
        return decrypt_text(credentials_cipher(self.settings), stored, what="a token")

    @property
    def nhs_number(self) -> str:
        return str(self.nhs_login.op.claims["nhs_number"])


@pytest.fixture
def client_key(client_key_file: Path) -> RSAKey:
    return RSAKey.import_key(client_key_file.read_bytes())


@pytest.fixture
async def world(
    rp: httpx.AsyncClient,
    mock_op: MockOP,
    mock_settings: Settings,
    engine: AsyncEngine,
    clock: FakeClock,
    client_key: RSAKey,
) -> AsyncIterator[World]:
    assert mock_op.router is not None
    nhs_login, platform = Refreshing(mock_op), Platform()
    mock_op.router.post(f"{ISSUER}/token").mock(side_effect=nhs_login.token)
    mock_op.router.post(PLATFORM_TOKEN_URL).mock(side_effect=platform.token)
    config = RelyingPartyConfig(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        private_key=client_key,
        redirect_uri=mock_settings.redirect_uri,
        scopes=mock_settings.nhs_login_scopes,
        vectors=vectors_from_json(mock_settings.nhs_login_vtr),
        pkce=True,
        app_redirect_uris=frozenset(),
    )
    cipher = credentials_cipher(mock_settings)
    async with httpx.AsyncClient() as http:
        relying_party = RelyingParty(config, http, clock)
        id_tokens = SessionIdTokens(
            create_sessionmaker(engine), cipher, clock, refresher=relying_party
        )
        exchange = NHSLoginTokenExchange(
            http,
            token_url=PLATFORM_TOKEN_URL,
            client_id="our-api-key",
            private_key=RSAKey.generate_key(2048),
            key_id="k1",
            id_tokens=id_tokens,
            clock=clock,
        )
        yield World(rp, engine, clock, nhs_login, platform, id_tokens, exchange, mock_settings)


async def test_a_session_near_its_end_still_exchanges_after_its_id_token_expired(
    world: World, client_key: RSAKey
) -> None:
    headers = await world.sign_in()
    signed_in_with = world.nhs_login.op.id_token()
    await world.stay_active_until(headers, SESSION_LIFE)

    assert await world.exchange.token_for(world.nhs_number) == "access-1"

    # NHS login's refresh grant, once, authenticated as the code grant is.
    [refresh] = world.nhs_login.refreshes
    form = form_of(refresh)
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "rt-1"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = jwt.decode(form["client_assertion"], client_key, algorithms=["RS512"])
    assert assertion.claims["iss"] == assertion.claims["sub"] == CLIENT_ID
    assert assertion.claims["aud"] == f"{ISSUER}/token"
    # The fresh ID token is what the platform was given, and is kept with the rotated
    # refresh token.
    [fresh] = world.nhs_login.issued_id_tokens
    assert fresh != signed_in_with
    assert world.platform.subject_tokens == [fresh]
    row = await world.row()
    assert world.decrypt(row.nhs_login_id_token_encrypted) == fresh
    assert world.decrypt(row.nhs_login_refresh_token_encrypted) == "rt-2"
    assert row.nhs_login_id_token_expires_at == world.clock.now() + timedelta(hours=1)

    # The next exchange reuses the fresh ID token: no second refresh.
    world.clock.advance(timedelta(minutes=5))
    assert await world.exchange.token_for(world.nhs_number, renew=True) == "access-2"
    assert world.platform.subject_tokens == [fresh, fresh]
    assert len(world.nhs_login.refreshes) == 1


async def test_the_refresh_token_is_kept_encrypted_and_goes_at_sign_out(world: World) -> None:
    headers = await world.sign_in()

    row = await world.row()
    stored = row.nhs_login_refresh_token_encrypted
    assert stored is not None
    assert "rt-1" not in stored
    assert world.decrypt(stored) == "rt-1"

    assert (await world.rp.post("/v1/auth/logout", headers=headers)).status_code == 204
    row = await world.row()
    assert row.nhs_login_refresh_token_encrypted is None
    assert row.nhs_login_id_token_encrypted is None
    world.clock.advance(timedelta(hours=2))
    with pytest.raises(SignInAgain):
        await world.exchange.token_for(world.nhs_number)
    assert world.nhs_login.refreshes == []


async def test_housekeeping_clears_the_tokens_of_an_idle_session(world: World) -> None:
    await world.sign_in()
    world.clock.advance(timedelta(minutes=31))

    async with create_sessionmaker(world.engine)() as db:
        assert await prune_sessions(db, now=world.clock.now(), idle=timedelta(minutes=30)) == 0

    row = await world.row()  # the row stays until the session's absolute end
    assert row.nhs_login_refresh_token_encrypted is None
    assert row.nhs_login_id_token_encrypted is None


async def test_without_a_refresh_token_the_patient_signs_in_again(world: World) -> None:
    world.nhs_login.first_refresh_token = None
    headers = await world.sign_in()
    assert (await world.row()).nhs_login_refresh_token_encrypted is None
    await world.stay_active_until(headers, timedelta(hours=2))

    with pytest.raises(SignInAgain) as refused:
        await world.exchange.token_for(world.nhs_number)

    assert "sign in again" in refused.value.detail
    assert world.nhs_login.refreshes == []
    assert world.platform.subject_tokens == []


@pytest.mark.parametrize(
    ("answer", "claims"),
    [
        (httpx.Response(400, json={"error": "invalid_grant"}), {}),
        (httpx.Response(401, json={"error": "invalid_client"}), {}),
        # NHS login's interface specification: the ID token comes with the code grant only.
        (httpx.Response(200, json={"access_token": "at", "refresh_token": "rt-9"}), {}),
        (httpx.Response(200, json=["not", "an", "object"]), {}),
        (None, {"sub": "someone-else"}),
        (None, {"vot": "P5.Cp.Cd"}),
        (None, {"aud": "another-client"}),
    ],
    ids=["refused", "our-client", "no-id-token", "not-json", "other-sub", "p5", "other-aud"],
)
async def test_a_refresh_nhs_login_refuses_is_sign_in_again_and_not_tried_again(
    world: World, answer: httpx.Response | None, claims: dict[str, Any]
) -> None:
    world.nhs_login.answer = answer
    world.nhs_login.id_token_claims = claims
    headers = await world.sign_in()
    await world.stay_active_until(headers, timedelta(hours=2))

    for _ in range(2):
        with pytest.raises(SignInAgain):
            await world.exchange.token_for(world.nhs_number)

    assert len(world.nhs_login.refreshes) == 1  # the refresh token is forgotten
    assert (await world.row()).nhs_login_refresh_token_encrypted is None
    assert world.platform.subject_tokens == []


async def test_nhs_login_down_at_refresh_is_unavailable_and_keeps_the_refresh_token(
    world: World,
) -> None:
    world.nhs_login.answer = httpx.Response(503)
    headers = await world.sign_in()
    await world.stay_active_until(headers, timedelta(hours=2))

    with pytest.raises(GPSystemUnavailable):
        await world.exchange.token_for(world.nhs_number)

    assert world.decrypt((await world.row()).nhs_login_refresh_token_encrypted) == "rt-1"
    world.nhs_login.answer = None  # back: the next call refreshes
    assert await world.exchange.token_for(world.nhs_number) == "access-1"


async def test_concurrent_calls_for_one_patient_refresh_once(world: World) -> None:
    headers = await world.sign_in()
    await world.stay_active_until(headers, timedelta(hours=2))

    first, second = await asyncio.gather(
        world.id_tokens.id_token_for(world.nhs_number),
        world.id_tokens.id_token_for(world.nhs_number),
    )

    assert len(world.nhs_login.refreshes) == 1
    assert first == second == world.nhs_login.issued_id_tokens[0]


async def test_an_id_token_the_platform_refused_is_refreshed_even_before_it_expires(
    world: World,
) -> None:
    await world.sign_in()
    signed_in_with = world.decrypt((await world.row()).nhs_login_id_token_encrypted)

    fresh = await world.id_tokens.id_token_for(world.nhs_number, refused=signed_in_with)

    assert fresh == world.nhs_login.issued_id_tokens[0]
    # Asked again about the same refused token: the fresh one, no second refresh.
    again = await world.id_tokens.id_token_for(world.nhs_number, refused=signed_in_with)
    assert again == fresh
    assert len(world.nhs_login.refreshes) == 1


async def test_the_refresher_is_nhs_login_when_configured(
    mock_settings: Settings, make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        refresher = await nhs_login_refresher(mock_settings, clock, stack)
        assert refresher is not None
        assert refresher.config.issuer == ISSUER
        assert refresher.config.client_id == CLIENT_ID
        assert await nhs_login_refresher(make_settings(), clock, stack) is None


async def test_a_sign_in_presents_its_own_id_token_for_its_own_patient_only(
    world: World,
) -> None:
    # Linking at a GP Connect practice is a patient-facing call made before the session
    # (and so its ID token) is stored: the sign-in lends its token, to its patient alone.
    assert await world.id_tokens.id_token_for("9000000009") is None
    with presenting("9000000009", "the-sign-in's-token"):
        assert await world.id_tokens.id_token_for("9000000009") == "the-sign-in's-token"
        assert await world.id_tokens.id_token_for("9000000017") is None  # another patient
        # Refused by the platform: not handed out again.
        refused = await world.id_tokens.id_token_for("9000000009", refused="the-sign-in's-token")
        assert refused is None
    assert await world.id_tokens.id_token_for("9000000009") is None  # only while signing in
    with presenting("9000000009", None):  # below P9 no token is lent
        assert await world.id_tokens.id_token_for("9000000009") is None
