"""The development NHS login stand-in: mounted only in dev, and as strict as NHS login."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.adapters.sandbox.personas import Persona
from app.config import Settings
from app.devtools.keys import ensure_dev_key
from app.main import create_app
from tests.auth.conftest import APP_REDIRECT_URI, BASE_URL, hidden_fields, query_of
from tests.conftest import FakeClock
from tests.foundation.test_settings import safe_prod

ISSUER = f"{BASE_URL}/dev/nhs-login"
TOKEN_URL = f"{ISSUER}/token"
CLIENT_ID = "gp-online-dev"


DISCOVERY = "/dev/nhs-login/.well-known/openid-configuration"


async def _status(app: FastAPI, path: str) -> int:
    # No lifespan needed: routing alone decides whether the stand-in answers.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return (await client.get(path)).status_code


async def test_a_prod_app_has_no_stand_in_and_404s_it(tmp_path: Path) -> None:
    app = create_app(safe_prod(tmp_path), clock=FakeClock())
    for path in (DISCOVERY, "/dev/nhs-login/authorize", "/dev/nhs-login/.well-known/jwks.json"):
        assert await _status(app, path) == 404
    assert not [p for p in app.openapi()["paths"] if p.startswith("/dev")]


@pytest.mark.parametrize(
    "values",
    [
        {"app_env": "test"},
        {"app_env": "dev", "dev_login_enabled": False},
        {"app_env": "dev", "nhs_login_issuer": "http://127.0.0.1:9000"},
    ],
    ids=["test env", "dev login disabled", "issuer configured"],
)
async def test_the_stand_in_mounts_only_in_dev_without_an_issuer(
    values: dict[str, Any], tmp_path: Path
) -> None:
    key = tmp_path / "k.pem"
    settings = Settings(_env_file=None, nhs_login_private_key_file=key, **values)  # type: ignore[call-arg]
    assert await _status(create_app(settings, clock=FakeClock()), DISCOVERY) == 404


async def test_in_dev_the_stand_in_answers_but_is_not_in_the_openapi_document(
    standin_settings: Settings,
) -> None:
    app = create_app(standin_settings, clock=FakeClock())
    assert await _status(app, DISCOVERY) == 200
    assert not [p for p in app.openapi()["paths"] if p.startswith("/dev")]


def test_the_dev_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = ensure_dev_key(tmp_path / "var" / "key.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert ensure_dev_key(path).read_bytes() == first
    assert RSAKey.import_key(first).is_private
    assert path.with_suffix(".pub.pem").is_file()


async def test_discovery_and_keys(web: httpx.AsyncClient) -> None:
    discovery = (await web.get("/dev/nhs-login/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == ISSUER
    assert discovery["id_token_signing_alg_values_supported"] == ["RS512"]
    assert discovery["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    keys = (await web.get("/dev/nhs-login/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["alg"] == "RS512"
    assert "d" not in keys[0]


def _authorize_params(**override: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "redirect_uri": APP_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile gp_registration_details gp_integration_credentials",
        "state": "s-1",
        "nonce": "n-1",
        "vtr": '["P9.Cp.Cd","P5.Cp.Cd"]',
    }
    params.update(override)
    return {k: v for k, v in params.items() if v is not None}


@pytest.mark.parametrize(
    "override",
    [
        {"client_id": "someone-else"},
        {"redirect_uri": "https://elsewhere.example/cb"},
        {"response_type": "token"},
        {"response_mode": "fragment"},
        {"scope": "profile"},
        {"state": None},
        {"nonce": None},
        {"vtr": None},
        {"vtr": "P9.Cp.Cd"},
        {"vtr": '["P7.Cp.Cd"]'},
        {"code_challenge": "abc", "code_challenge_method": "plain"},
    ],
)
async def test_authorize_refuses_what_nhs_login_refuses(
    web: httpx.AsyncClient, override: dict[str, str | None]
) -> None:
    response = await web.get("/dev/nhs-login/authorize?" + urlencode(_authorize_params(**override)))
    assert response.status_code == 400
    assert "location" not in response.headers  # never redirect an unchecked request


async def test_the_authorize_page_is_self_contained(web: httpx.AsyncClient) -> None:
    page = await web.get("/dev/nhs-login/authorize?" + urlencode(_authorize_params()))
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # Each security header once: the page adds none of its own to the service's.
    for name in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert len(page.headers.get_list(name)) == 1, name
    assert "<script" not in page.text
    assert "http://" not in page.text and "src=" not in page.text
    assert "Cancel" in page.text


# --- the token endpoint ---------------------------------------------------------------------


def _verifier_and_challenge() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _code(web: httpx.AsyncClient, persona: Persona, challenge: str | None) -> str:
    extra = {"code_challenge": challenge, "code_challenge_method": "S256"} if challenge else {}
    page = await web.get("/dev/nhs-login/authorize?" + urlencode(_authorize_params(**extra)))
    form = {**hidden_fields(page.text), "persona": persona.nhs_login_claims["sub"]}
    back = await web.post("/dev/nhs-login/authorize", data=form)
    return query_of(back.headers["location"])["code"]


def _assertion(key_file: Path, clock: FakeClock, **override: Any) -> str:
    now = int(clock.now().timestamp())
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "iat": now,
              "exp": now + 300, "jti": secrets.token_urlsafe(16)}  # fmt: skip
    alg = override.pop("alg", "RS512")
    claims.update(override)
    key = RSAKey.import_key(key_file.read_bytes())
    return jwt.encode({"alg": alg}, {k: v for k, v in claims.items() if v is not None}, key,
                      algorithms=[alg])  # fmt: skip


def _token_form(code: str, assertion: str, verifier: str | None, **override: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": APP_REDIRECT_URI,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    if verifier:
        form["code_verifier"] = verifier
    form.update(override)
    return form


async def test_a_correct_exchange_gives_an_rs512_id_token_with_vot(
    web: httpx.AsyncClient,
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
) -> None:
    olivia = persona("adult-full")
    verifier, challenge = _verifier_and_challenge()
    code = await _code(web, olivia, challenge)
    response = await web.post(
        TOKEN_URL, data=_token_form(code, _assertion(client_key_file, clock), verifier)
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    jwks = (await web.get("/dev/nhs-login/.well-known/jwks.json")).json()
    key = RSAKey.import_key(jwks["keys"][0])
    id_token = jwt.decode(tokens["id_token"], key, algorithms=["RS512"])
    assert id_token.header["alg"] == "RS512"
    assert id_token.claims["vot"] == "P9.Cp.Cd"
    assert id_token.claims["nonce"] == "n-1"
    assert id_token.claims["aud"] == CLIENT_ID
    assert id_token.claims["iss"] == ISSUER
    userinfo = await web.get(
        f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    claims = userinfo.json()
    assert claims["sub"] == id_token.claims["sub"] == olivia.nhs_login_claims["sub"]
    assert claims["nhs_number"] == olivia.nhs_number
    assert claims["gp_integration_credentials"]["gp_ods_code"] == olivia.ods_code


async def test_p5_userinfo_has_no_gp_credentials(
    web: httpx.AsyncClient,
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
) -> None:
    code = await _code(web, persona("p5-identity"), None)
    tokens = (
        await web.post(TOKEN_URL, data=_token_form(code, _assertion(client_key_file, clock), None))
    ).json()
    claims = (
        await web.get(
            f"{ISSUER}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    ).json()
    assert claims["identity_proofing_level"] == "P5"
    assert "gp_integration_credentials" not in claims


BAD_ASSERTIONS: dict[str, dict[str, Any]] = {
    "RS256": {"alg": "RS256"},
    "an hour long": {"exp": "HOUR"},
    "wrong audience": {"aud": f"{ISSUER}/other"},
    "wrong issuer": {"iss": "someone-else"},
    "wrong subject": {"sub": "someone-else"},
    "no jti": {"jti": None},
    "expired": {"exp": "PAST"},
}


@pytest.mark.parametrize("override", BAD_ASSERTIONS.values(), ids=BAD_ASSERTIONS.keys())
async def test_the_client_assertion_is_checked(
    web: httpx.AsyncClient,
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
    override: dict[str, Any],
) -> None:
    now = int(clock.now().timestamp())
    override = {k: {"HOUR": now + 3600, "PAST": now - 120}.get(v, v) if isinstance(v, str) else v
                for k, v in override.items()}  # fmt: skip
    code = await _code(web, persona("adult-full"), None)
    response = await web.post(
        TOKEN_URL, data=_token_form(code, _assertion(client_key_file, clock, **override), None)
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


async def test_an_assertion_signed_with_another_key_is_refused(
    web: httpx.AsyncClient, clock: FakeClock, tmp_path: Path, persona: Callable[[str], Persona]
) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    code = await _code(web, persona("adult-full"), None)
    response = await web.post(TOKEN_URL, data=_token_form(code, _assertion(other, clock), None))
    assert response.json() == {"error": "invalid_client"}


async def test_a_jti_is_used_once(
    web: httpx.AsyncClient,
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
) -> None:
    assertion = _assertion(client_key_file, clock)
    first = await _code(web, persona("adult-full"), None)
    assert (await web.post(TOKEN_URL, data=_token_form(first, assertion, None))).status_code == 200
    second = await _code(web, persona("adult-full"), None)
    replay = await web.post(TOKEN_URL, data=_token_form(second, assertion, None))
    assert replay.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("case", ["reused", "expired", "wrong verifier", "no verifier",
                                  "wrong redirect_uri", "unknown"])  # fmt: skip
async def test_codes_are_single_use_short_lived_and_pkce_bound(
    web: httpx.AsyncClient,
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
    case: str,
) -> None:
    verifier, challenge = _verifier_and_challenge()
    code = await _code(web, persona("adult-full"), challenge)
    override: dict[str, str] = {}
    if case == "reused":
        form = _token_form(code, _assertion(client_key_file, clock), verifier)
        assert (await web.post(TOKEN_URL, data=form)).status_code == 200
    elif case == "expired":
        from datetime import timedelta

        clock.advance(timedelta(seconds=61))
    elif case == "wrong verifier":
        verifier = secrets.token_urlsafe(48)
    elif case == "no verifier":
        verifier = ""
    elif case == "wrong redirect_uri":
        override["redirect_uri"] = "https://testserver/v1/auth/callback"
    else:
        code = "made-up"
    form = _token_form(code, _assertion(client_key_file, clock), verifier, **override)
    response = await web.post(TOKEN_URL, data=form)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


async def test_userinfo_needs_a_valid_access_token(web: httpx.AsyncClient) -> None:
    response = await web.get(f"{ISSUER}/userinfo", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert json.loads(response.text) == {"error": "invalid_token"}
