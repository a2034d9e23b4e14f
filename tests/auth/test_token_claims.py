"""Sign-in checks that only a missing or downgraded value would catch.

Every other sign-in test sends each claim with a wrong value; these send none
at all, or ask for less than the service requires, or leave out what the
relying party itself must send.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.auth.conftest import APP_REDIRECT_URI, CLIENT_ID, MockOP
from tests.auth.test_relying_party import _claims, begin, finish

MISSING_OR_AMBIGUOUS = {
    "no exp": _claims(exp=None),
    "no iat": _claims(iat=None),
    "no iss": _claims(iss=None),
    "no aud": _claims(aud=None),
    "several audiences with another azp": _claims(
        aud=[CLIENT_ID, "another-client"], azp="another-client"
    ),
}


@pytest.mark.parametrize("spoil", MISSING_OR_AMBIGUOUS.values(), ids=MISSING_OR_AMBIGUOUS.keys())
async def test_a_token_missing_a_required_claim_is_login_failed(
    rp: httpx.AsyncClient, mock_op: MockOP, spoil: Callable[[MockOP], None]
) -> None:
    authorize = await begin(rp, mock_op)
    spoil(mock_op)
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "login_failed"
    assert "__Host-gp_session" not in response.headers.get("set-cookie", "")


async def test_several_audiences_naming_us_as_azp_are_accepted(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    """The other side of the azp rule, so that the refusal above is for the right reason."""
    authorize = await begin(rp, mock_op)
    _claims(aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID)(mock_op)
    response = await finish(rp, code="code-1", state=authorize["state"])
    assert response.status_code == 303, response.text


async def test_userinfo_is_asked_with_the_access_token(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    authorize = await begin(rp, mock_op)
    assert (await finish(rp, code="code-1", state=authorize["state"])).status_code == 303
    assert mock_op.router is not None
    (call,) = [c for c in mock_op.router.calls if c.request.url.path == "/userinfo"]
    assert call.request.headers["Authorization"] == "Bearer at-1"


@pytest.mark.parametrize(
    "vtr", ['["P0.Cp.Cd"]', '["P9.Cp.Cd","P0.Cp.Cd"]', '["P9.Cp.Cd","P9.Cm","X"]']
)
async def test_a_sign_in_cannot_ask_for_less_than_the_service_accepts(
    rp: httpx.AsyncClient, mock_op: MockOP, vtr: str
) -> None:
    response = await rp.get("/v1/auth/login", params={"vtr": vtr})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_vtr"
    assert "location" not in response.headers


async def test_a_narrower_vtr_is_accepted(rp: httpx.AsyncClient) -> None:
    response = await rp.get("/v1/auth/login", params={"vtr": '["P9.Cp.Cd"]'})
    assert response.status_code == 302


async def test_an_app_without_its_pkce_verifier_is_refused_before_the_exchange(
    rp: httpx.AsyncClient, mock_op: MockOP
) -> None:
    body = {"code": "code-7", "redirect_uri": APP_REDIRECT_URI, "nonce": "app-nonce"}
    response = await rp.post("/v1/auth/session", json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "login_failed"
    assert not mock_op.token_requests
