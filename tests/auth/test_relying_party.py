"""The relying party against NHS login mocked at the network boundary (respx).

Each way an authorization response or token can be wrong is refused with the
problem code an app can act on, and never a 500.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from app.storable import MESSAGE
from tests.auth.conftest import (
    APP_REDIRECT_URI,
    CLIENT_ID,
    ISSUER,
    MockOP,
    query_of,
)
from tests.conftest import FakeClock


async def begin(rp: httpx.AsyncClient, op: MockOP, return_to: str = "/home") -> dict[str, str]:
    start = await rp.get("/v1/auth/login", params={"return_to": return_to})
    assert start.status_code == 302, start.text
    authorize = query_of(start.headers["location"])
    op.nonce = authorize["nonce"]
    return authorize


async def finish(rp: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await rp.get("/v1/auth/callback", params=params)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_good_response_signs_in(rp: httpx.AsyncClient, mock_op: MockOP) -> None:
    authorize = await begin(rp, mock_op)
    assert authorize["client_id"] == CLIENT_ID
    assert authorize["redirect_uri"] == "https://testserver/v1/auth/callback"
    assert set(authorize["scope"].split()) >= {"openid", "gp_integration_credentials"}
    done = await finish(rp, code="code-1", state=authorize["state"])
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/home"
    assert (await rp.get("/v1/auth/session")).json()["identity_level"] == "P9"


async def test_the_client_assertion_is_rs512_short_lived_and_unique(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock, client_key_file: Any
) -> None:
    public = RSAKey.import_key(RSAKey.import_key(client_key_file.read_bytes()).as_dict())
    jtis = []
    for code in ("code-1", "code-2"):
        authorize = await begin(rp, mock_op)
        assert (await finish(rp, code=code, state=authorize["state"])).status_code == 303
        form = {k: v[0] for k, v in parse_qs(mock_op.token_requests[-1].content.decode()).items()}
        assert form["grant_type"] == "authorization_code"
        assert form["client_assertion_type"] == (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        assert form["code_verifier"]
        token = jwt.decode(form["client_assertion"], public, algorithms=["RS512"])
        assert token.header["alg"] == "RS512"
        claims = token.claims
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == f"{ISSUER}/token"
        assert 0 < claims["exp"] - int(clock.now().timestamp()) <= 300
        jtis.append(claims["jti"])
    assert len(set(jtis)) == 2


def _spoil(**changes: Any) -> Callable[[MockOP], None]:
    def apply(op: MockOP) -> None:
        for name, value in changes.items():
            setattr(op, name, value)

    return apply


def _claims(**override: Any) -> Callable[[MockOP], None]:
    return _spoil(id_token_override=override)


def _alg_none(op: MockOP) -> None:
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": op.claims["sub"], "nonce": op.nonce,
              "vot": op.claims["vot"], "iat": 1, "exp": 9_999_999_999}  # fmt: skip
    op.raw_id_token = f"{_b64({'alg': 'none'})}.{_b64(claims)}."


def _hs256(op: MockOP) -> None:
    now = int(op.clock.now().timestamp())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": op.claims["sub"], "nonce": op.nonce,
              "vot": op.claims["vot"], "iat": now, "exp": now + 600}  # fmt: skip
    op.raw_id_token = jwt.encode({"alg": "HS256"}, claims, OctKey.generate_key(256))


def _rs256(op: MockOP) -> None:
    op.header_override = {"alg": "RS256"}


def _bad_signature(op: MockOP) -> None:
    op.signing_key = RSAKey.generate_key(2048)


def _wrong_nonce(op: MockOP) -> None:
    op.nonce = "not-the-nonce"


def _missing_nonce(op: MockOP) -> None:
    op.nonce = None


SPOILED_TOKENS = {
    "bad signature": _bad_signature,
    "alg none": _alg_none,
    "alg HS256": _hs256,
    "alg RS256": _rs256,
    "wrong iss": _claims(iss="https://other-op.example.test"),
    "wrong aud": _claims(aud="another-client"),
    "several audiences without azp": _claims(aud=[CLIENT_ID, "another-client"]),
    "expired": _claims(exp=0),
    "iat in the future": _claims(iat=9_999_999_999),
    "no sub": _claims(sub=None),
    "nonce missing": _missing_nonce,
    "nonce wrong": _wrong_nonce,
    "vot not requested": _claims(vot="P0.Cp.Cd"),
    "vot missing": _claims(vot=None),
    "userinfo sub mismatch": _spoil(userinfo_claims={"sub": "someone-else"}),
    "not a JWT": _spoil(raw_id_token="not-a-jwt"),
}


@pytest.mark.parametrize("spoil", SPOILED_TOKENS.values(), ids=SPOILED_TOKENS.keys())
async def test_a_spoiled_token_is_login_failed(
    rp: httpx.AsyncClient, mock_op: MockOP, spoil: Callable[[MockOP], None]
) -> None:
    authorize = await begin(rp, mock_op)
    spoil(mock_op)
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.status_code == 401, response.text
    problem = response.json()
    assert problem["code"] == "login_failed"
    assert response.headers["content-type"] == "application/problem+json"
    assert "nonce" not in problem["detail"].lower() and "token" not in problem["detail"].lower()
    assert "__Host-gp_session" not in response.headers.get("set-cookie", "")


async def test_an_expired_token_within_the_leeway_is_accepted(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    authorize = await begin(rp, mock_op)
    mock_op.id_token_override = {"exp": int(clock.now().timestamp()) - 30}
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 303


@pytest.mark.parametrize(
    "params",
    [
        {"code": "code-1"},
        {"code": "code-1", "state": "forged"},
        {"state": "STATE"},
    ],
    ids=["state missing", "state wrong", "code missing"],
)
async def test_state_must_match_the_sign_in_in_progress(
    rp: httpx.AsyncClient, mock_op: MockOP, params: dict[str, str]
) -> None:
    authorize = await begin(rp, mock_op)
    params = {k: authorize["state"] if v == "STATE" else v for k, v in params.items()}
    response = await finish(rp, **params)
    assert response.status_code == 401
    assert response.json()["code"] == "login_failed"
    assert not mock_op.token_requests


async def test_state_from_another_browser_is_refused(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    authorize = await begin(rp, mock_op)
    rp.cookies.clear()
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.status_code == 401
    # Refused, and named: this browser never started the sign-in (or lost its cookie).
    assert response.json()["code"] == "login_cookie_missing"
    assert "set-cookie" not in response.headers


async def test_a_replayed_code_is_refused(rp: httpx.AsyncClient, mock_op: MockOP) -> None:
    authorize = await begin(rp, mock_op)
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 303
    authorize = await begin(rp, mock_op)
    replay = await finish(rp, code="code-1", state=authorize["state"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "login_failed"


async def test_a_replayed_code_from_an_app_is_refused(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    mock_op.nonce = "app-nonce"
    body = {"code": "code-9", "redirect_uri": APP_REDIRECT_URI, "nonce": "app-nonce",
            "code_verifier": "v" * 43}  # fmt: skip
    assert (await rp.post("/v1/auth/session", json=body)).status_code == 201
    again = await rp.post("/v1/auth/session", json=body)
    assert again.status_code == 401
    assert again.json()["code"] == "login_failed"


async def test_an_app_redirect_uri_must_be_registered(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    body = {"code": "c", "redirect_uri": "https://elsewhere.example/cb", "nonce": "n",
            "code_verifier": "v" * 43}  # fmt: skip
    response = await rp.post("/v1/auth/session", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "redirect_uri_not_allowed"
    assert not mock_op.token_requests


async def test_the_app_session_body_refuses_unknown_fields(rp: httpx.AsyncClient) -> None:
    body = {"code": "c", "redirect_uri": APP_REDIRECT_URI, "nonce": "n",
            "code_verifier": "v" * 43, "vot": "P9.Cp.Cd"}  # fmt: skip
    response = await rp.post("/v1/auth/session", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.vot"


@pytest.mark.parametrize(
    "return_to",
    [
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
    ],
)
async def test_return_to_cannot_leave_the_site(rp: httpx.AsyncClient, return_to: str) -> None:
    response = await rp.get("/v1/auth/login", params={"return_to": return_to})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_return_to"


@pytest.mark.parametrize("return_to", ["/\t/evil.example", "/ok\r\nSet-Cookie: x=y"])
async def test_a_return_to_with_control_characters_is_refused_before_the_route(
    rp: httpx.AsyncClient, return_to: str
) -> None:
    # As any query parameter holding one is (app.storable).
    response = await rp.get("/v1/auth/login", params={"return_to": return_to})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "query.return_to", "message": MESSAGE}]


async def test_op_errors_other_than_cancel_are_login_failed(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    authorize = await begin(rp, mock_op)
    response = await finish(rp, error="invalid_request", state=authorize["state"])
    assert response.status_code == 401
    assert response.json()["code"] == "login_failed"


async def test_cancel_with_the_sign_in_in_progress_redirects_with_a_flag(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    authorize = await begin(rp, mock_op, return_to="/x?y=1#top")
    response = await finish(rp, error="access_denied", state=authorize["state"])
    assert response.status_code == 303
    assert response.headers["location"] == "/x?y=1&login_error=login_cancelled#top"


@pytest.mark.parametrize("failure", ["500", "timeout", "connect"])
async def test_nhs_login_down_at_the_token_endpoint_is_503(
    rp: httpx.AsyncClient, mock_op: MockOP, failure: str
) -> None:
    authorize = await begin(rp, mock_op)
    assert mock_op.router is not None
    route = mock_op.router.routes[2]
    if failure == "500":
        mock_op.token_status = 500
    else:
        error = httpx.ReadTimeout("slow") if failure == "timeout" else httpx.ConnectError("down")
        route.side_effect = error
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.status_code == 503
    assert response.json()["code"] == "nhs_login_unavailable"
    assert response.headers["retry-after"]


@pytest.mark.parametrize("failure", ["500", "timeout"])
async def test_nhs_login_down_at_discovery_is_503(
    rp: httpx.AsyncClient, mock_op: MockOP, failure: str, clock: FakeClock
) -> None:
    assert mock_op.router is not None
    discovery = mock_op.router.routes[0]
    discovery.side_effect = (
        httpx.ConnectTimeout("slow") if failure == "timeout" else httpx.Response(500)
    )
    clock.advance(timedelta(hours=2))  # past what start-up read and cached
    response = await rp.get("/v1/auth/login")
    assert response.status_code == 503
    assert response.json()["code"] == "nhs_login_unavailable"


async def test_discovery_is_cached(rp: httpx.AsyncClient, mock_op: MockOP) -> None:
    for _ in range(3):
        await begin(rp, mock_op)
    assert mock_op.router is not None
    assert mock_op.router.routes[0].call_count == 1


async def test_an_unknown_kid_refetches_the_keys_once_then_cools_down(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    assert mock_op.router is not None
    jwks = mock_op.router.routes[1]
    authorize = await begin(rp, mock_op)
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 303
    assert jwks.call_count == 1

    # NHS login rotates its key: the new kid is fetched once, and sign-in works.
    mock_op.key = RSAKey.generate_key(2048, auto_kid=True)
    clock.advance(timedelta(minutes=5))
    authorize = await begin(rp, mock_op)
    assert (await finish(rp, code="code-2", state=authorize["state"])).status_code == 303
    assert jwks.call_count == 2

    # A token naming a key nobody has: one refetch at most per cool-down.
    mock_op.header_override = {"kid": "unknown"}
    for code in ("code-3", "code-4"):
        authorize = await begin(rp, mock_op)
        response = await finish(rp, code=code, state=authorize["state"])
        assert response.json()["code"] == "login_failed"
    assert jwks.call_count == 2


async def test_signing_in_without_an_issuer_configured_is_503(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/auth/login")
    assert response.status_code == 503
    assert response.json()["code"] == "nhs_login_unavailable"


async def test_a_sign_in_left_for_more_than_10_minutes_is_refused(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    authorize = await begin(rp, mock_op)
    clock.advance(timedelta(minutes=10, seconds=1))
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.json()["code"] == "login_failed"
    assert not mock_op.token_requests


async def test_the_sign_in_cookie_is_sealed(rp: httpx.AsyncClient, mock_op: MockOP) -> None:
    authorize = await begin(rp, mock_op)
    sealed = rp.cookies["__Host-gp_login"]
    for secret in (authorize["state"], authorize["nonce"]):
        assert secret not in sealed
        assert secret not in base64.urlsafe_b64decode(sealed + "==").decode(errors="replace")
    rp.cookies.set("__Host-gp_login", sealed[:-4] + ("AAAA" if sealed[-4:] != "AAAA" else "BBBB"))
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.json()["code"] == "login_failed"
