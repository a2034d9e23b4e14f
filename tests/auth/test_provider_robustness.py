"""NHS login robustness: RFC 9207 `iss`, signing keys that expire, refusals explained in
logs without content, and discovery checked at start-up (reported on /readyz)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from joserfc.jwk import RSAKey

from app.auth.oidc import JWKS_MAX_AGE
from tests.auth.conftest import APP_REDIRECT_URI, ISSUER, MockOP
from tests.auth.test_relying_party import begin, finish
from tests.conftest import FakeClock


async def test_an_advertised_iss_parameter_is_required_and_checked(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    mock_op.discovery_override = {"authorization_response_iss_parameter_supported": True}
    clock.advance(timedelta(hours=2))  # discovery is read again
    for code, iss in (("code-1", None), ("code-2", "https://other-op.example")):
        authorize = await begin(rp, mock_op)
        params = {"code": code, "state": authorize["state"]}
        if iss is not None:
            params["iss"] = iss
        refused = await finish(rp, **params)
        assert refused.status_code == 401
        assert refused.json()["code"] == "login_failed"
    assert mock_op.token_requests == []  # no code was exchanged for a mixed-up response

    authorize = await begin(rp, mock_op)
    done = await finish(rp, code="code-3", state=authorize["state"], iss=ISSUER)
    assert done.status_code == 303, done.text


async def test_an_iss_parameter_is_compared_even_when_not_advertised(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    authorize = await begin(rp, mock_op)
    refused = await finish(
        rp, code="code-1", state=authorize["state"], iss="https://other-op.example"
    )
    assert refused.status_code == 401
    # And a cancel carrying another issuer's `iss` is no cancel of ours.
    authorize = await begin(rp, mock_op)
    cancelled = await finish(
        rp, error="access_denied", state=authorize["state"], iss="https://other-op.example"
    )
    assert cancelled.status_code == 401


def _app_exchange(code: str, iss: str | None) -> dict[str, str]:
    body = {"code": code, "redirect_uri": APP_REDIRECT_URI, "nonce": "app-nonce",
            "code_verifier": "v" * 43}  # fmt: skip
    return body | ({"iss": iss} if iss is not None else {})


@pytest.mark.parametrize("advertised", [True, False])
async def test_an_app_passes_on_the_iss_it_was_sent_and_it_is_checked(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock, advertised: bool
) -> None:
    mock_op.nonce = "app-nonce"
    mock_op.discovery_override = {"authorization_response_iss_parameter_supported": advertised}
    clock.advance(timedelta(hours=2))  # discovery is read again
    refused = [("code-1", "https://other-op.example")] + ([("code-2", None)] if advertised else [])
    for code, iss in refused:
        answer = await rp.post("/v1/auth/session", json=_app_exchange(code, iss))
        assert answer.status_code == 401, (iss, answer.text)
        assert answer.json()["code"] == "login_failed"
    assert mock_op.token_requests == []  # no code was exchanged for a mixed-up response

    done = await rp.post("/v1/auth/session", json=_app_exchange("code-3", ISSUER))
    assert done.status_code == 201, done.text
    if not advertised:  # an app that does not send it still signs in where it is optional
        again = await rp.post("/v1/auth/session", json=_app_exchange("code-4", None))
        assert again.status_code == 201, again.text


async def test_a_key_withdrawn_from_the_jwks_stops_being_trusted(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    authorize = await begin(rp, mock_op)
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 303

    # NHS login withdraws its key (say, it leaked); tokens are still signed with it.
    withdrawn = mock_op.key
    mock_op.key = RSAKey.generate_key(2048, auto_kid=True)
    mock_op.signing_key = withdrawn
    mock_op.header_override = {"kid": withdrawn.kid}
    clock.advance(JWKS_MAX_AGE + timedelta(seconds=1))
    authorize = await begin(rp, mock_op)
    refused = await finish(rp, code="code-2", state=authorize["state"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "login_failed"


async def test_why_a_token_was_refused_is_logged_without_its_content(
    rp: httpx.AsyncClient, mock_op: MockOP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.auth.oidc")
    authorize = await begin(rp, mock_op)
    mock_op.id_token_override = {"aud": "someone-else"}
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 401
    authorize = await begin(rp, mock_op)
    mock_op.token_status = 400
    assert (await finish(rp, code="code-2", state=authorize["state"])).status_code == 401

    messages = [record.getMessage() for record in caplog.records]
    assert any("ID token rejected: invalid_claim (claim aud)" in m for m in messages), messages
    assert any("(400, invalid_client)" in m for m in messages), messages
    logged = "\n".join(messages)
    for secret in (mock_op.claims["sub"], str(mock_op.nonce), "someone-else"):
        assert secret not in logged


async def _nhs_login_check(rp: httpx.AsyncClient) -> str:
    for _ in range(100):  # the start-up check runs in the background
        state = str((await rp.get("/readyz")).json()["checks"]["nhs_login"])
        if state != "unchecked":
            return state
        await asyncio.sleep(0.01)
    return "unchecked"


async def test_discovery_is_checked_at_start_up(rp: httpx.AsyncClient, mock_op: MockOP) -> None:
    assert await _nhs_login_check(rp) == "ok"
    assert mock_op.router is not None
    assert mock_op.router.routes[0].call_count == 1  # read once, before any sign-in


async def test_a_provider_without_what_nhs_login_offers_is_reported_on_readyz(
    rp: httpx.AsyncClient, mock_op: MockOP, clock: FakeClock
) -> None:
    mock_op.discovery_override = {
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["plain"],
    }
    clock.advance(timedelta(hours=2))
    await rp.get("/v1/auth/login")
    readiness = await rp.get("/readyz")
    assert readiness.status_code == 200  # the rest of the service still serves
    state = readiness.json()["checks"]["nhs_login"]
    assert state.startswith("mismatch:")
    for missing in ("RS512", "private_key_jwt", "S256"):
        assert missing in state


@pytest.mark.parametrize("name", ["iss", "code", "state"])
async def test_a_callback_that_repeats_a_parameter_is_refused(
    rp: httpx.AsyncClient, mock_op: MockOP, name: str
) -> None:
    authorize = await begin(rp, mock_op)
    params = [("code", "code-1"), ("state", authorize["state"]), ("iss", ISSUER)]
    value = dict(params)[name]
    # The same value twice, or another after it: either way not one answer from NHS login.
    for second in (value, "https://other-op.example" if name == "iss" else value + "x"):
        refused = await rp.get("/v1/auth/callback", params=[*params, (name, second)])
        assert (refused.status_code, refused.json()["code"]) == (401, "login_failed")
    assert mock_op.token_requests == []
    done = await finish(rp, **dict(params))
    assert done.status_code == 303, done.text
