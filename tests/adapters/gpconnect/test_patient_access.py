"""The patient's access token for the patient-facing APIs: RFC 8693 token exchange of
their NHS login ID token at the NHS API platform, with respx at the token endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.adapters.gpconnect import create_gpconnect_factory
from app.adapters.gpconnect.patient_access import NHSLoginTokenExchange, SandboxPatientTokens
from app.config import Settings
from app.gp.errors import GPSystemUnavailable, SignInAgain
from app.gp.registry import PracticesFileInvalid
from tests.adapters.gpconnect.conftest import gpconnect_settings, practice_config
from tests.conftest import FakeClock

TOKEN_URL = "https://platform.test/oauth2/token"
NHS_NUMBER = "9000000009"
ID_TOKEN = "header.nhs-login-id-token.signature"


class IdTokens:
    """What the sign-in flow would hold: the patient's current NHS login ID token, and
    the one it would refresh to once that is refused (`fresh`)."""

    def __init__(self, tokens: dict[str, str], fresh: dict[str, str] | None = None) -> None:
        self.tokens = tokens
        self.fresh = fresh or {}
        self.asked = 0
        self.refused: list[str] = []

    async def id_token_for(self, nhs_number: str, *, refused: str | None = None) -> str | None:
        self.asked += 1
        if refused is not None:
            self.refused.append(refused)
            return self.fresh.get(nhs_number)
        return self.tokens.get(nhs_number)


@pytest.fixture(scope="module")
def private_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@contextlib.asynccontextmanager
async def exchange(
    clock: FakeClock, key: RSAKey, id_tokens: IdTokens
) -> AsyncIterator[NHSLoginTokenExchange]:
    async with httpx.AsyncClient() as http:
        yield NHSLoginTokenExchange(
            http,
            token_url=TOKEN_URL,
            client_id="our-api-key",
            private_key=key,
            key_id="gp-online-1",
            id_tokens=id_tokens,
            clock=clock,
        )


def issued(token: str, expires_in: int | None = 599) -> httpx.Response:
    body: dict[str, object] = {
        "access_token": token,
        "token_type": "Bearer",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    if expires_in is not None:
        body["expires_in"] = str(expires_in)  # the platform sends a string
    return httpx.Response(200, json=body)


async def test_the_id_token_is_exchanged_with_a_signed_client_assertion(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    route = router.post(TOKEN_URL).mock(return_value=issued("access-1"))

    async with exchange(gp_clock, private_key, IdTokens({NHS_NUMBER: ID_TOKEN})) as tokens:
        assert await tokens.token_for(NHS_NUMBER) == "access-1"

    form = {k: v[0] for k, v in parse_qs(route.calls.last.request.content.decode()).items()}
    assert form.pop("client_assertion")  # checked below
    assert form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "subject_token": ID_TOKEN,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assertion = parse_qs(route.calls.last.request.content.decode())["client_assertion"][0]
    token = jwt.decode(assertion, private_key, algorithms=["RS512"])
    assert token.header == {"alg": "RS512", "typ": "JWT", "kid": "gp-online-1"}
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "our-api-key"
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"]
    assert NHS_NUMBER not in assertion


async def test_a_token_is_reused_until_shortly_before_it_ends(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    route = router.post(TOKEN_URL).mock(side_effect=[issued("access-1"), issued("access-2")])
    id_tokens = IdTokens({NHS_NUMBER: ID_TOKEN})

    async with exchange(gp_clock, private_key, id_tokens) as tokens:
        assert await tokens.token_for(NHS_NUMBER) == "access-1"
        gp_clock.advance(timedelta(seconds=500))
        assert await tokens.token_for(NHS_NUMBER) == "access-1"
        assert route.call_count == 1
        gp_clock.advance(timedelta(seconds=80))  # within 30 s of its end
        assert await tokens.token_for(NHS_NUMBER) == "access-2"

    assert route.call_count == 2
    assert id_tokens.asked == 2


async def test_renew_exchanges_again_and_no_lifetime_means_no_reuse(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    route = router.post(TOKEN_URL).mock(
        side_effect=[issued("a", expires_in=None), issued("b"), issued("c")]
    )

    async with exchange(gp_clock, private_key, IdTokens({NHS_NUMBER: ID_TOKEN})) as tokens:
        assert await tokens.token_for(NHS_NUMBER) == "a"
        assert await tokens.token_for(NHS_NUMBER) == "b"
        assert await tokens.token_for(NHS_NUMBER, renew=True) == "c"

    assert route.call_count == 3


async def test_without_an_id_token_the_patient_signs_in_again_and_nothing_is_sent(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    route = router.post(TOKEN_URL).mock(return_value=issued("never"))

    async with exchange(gp_clock, private_key, IdTokens({})) as tokens:
        with pytest.raises(SignInAgain) as refused:
            await tokens.token_for(NHS_NUMBER)

    assert "sign in again" in refused.value.detail
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (
            httpx.Response(400, json={"error": "invalid_grant"}),
            SignInAgain,
            "TOKEN_EXCHANGE_INVALID_GRANT",
        ),
        (
            httpx.Response(401, json={"error": "invalid_client"}),
            GPSystemUnavailable,
            "TOKEN_EXCHANGE_invalid_client",
        ),
        (httpx.Response(502), GPSystemUnavailable, "TOKEN_HTTP_502"),
        (httpx.Response(200, json={"token_type": "Bearer"}), GPSystemUnavailable, None),
        (httpx.ConnectTimeout("slow"), GPSystemUnavailable, "TOKEN_TIMEOUT"),
        (httpx.ConnectError("refused"), GPSystemUnavailable, "TOKEN_TRANSPORT"),
    ],
    ids=["expired-id-token", "our-client", "outage", "malformed", "timeout", "transport"],
)
async def test_token_service_failures(
    router: respx.MockRouter,
    gp_clock: FakeClock,
    private_key: RSAKey,
    answer: httpx.Response | Exception,
    error: type[Exception],
    code: str | None,
) -> None:
    """Only the patient's own ID token being refused asks them to sign in again; our
    configuration or the platform failing is an outage, which they cannot fix."""
    router.post(TOKEN_URL).mock(side_effect=[answer])

    async with exchange(gp_clock, private_key, IdTokens({NHS_NUMBER: ID_TOKEN})) as tokens:
        with pytest.raises(error) as failed:
            await tokens.token_for(NHS_NUMBER)

    if code is not None:
        assert getattr(failed.value, "supplier_code", None) == code
    assert ID_TOKEN not in str(failed.value)


def subject_tokens(route: respx.Route) -> list[str]:
    return [parse_qs(call.request.content.decode())["subject_token"][0] for call in route.calls]


async def test_an_id_token_refused_as_expired_is_refreshed_once_and_exchanged(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    """The platform's clock may call an ID token expired before ours does: the store is
    asked for a fresh one (naming the refused one), which is exchanged instead."""
    route = router.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(400, json={"error": "invalid_grant"}), issued("access-1")]
    )
    id_tokens = IdTokens({NHS_NUMBER: ID_TOKEN}, fresh={NHS_NUMBER: "fresh.id.token"})

    async with exchange(gp_clock, private_key, id_tokens) as tokens:
        assert await tokens.token_for(NHS_NUMBER) == "access-1"

    assert id_tokens.refused == [ID_TOKEN]
    assert subject_tokens(route) == [ID_TOKEN, "fresh.id.token"]


@pytest.mark.parametrize("fresh", [{}, {NHS_NUMBER: ID_TOKEN}], ids=["none", "the-same"])
async def test_no_fresh_id_token_after_a_refusal_is_sign_in_again(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey, fresh: dict[str, str]
) -> None:
    route = router.post(TOKEN_URL).mock(
        return_value=httpx.Response(400, json={"error": "invalid_grant"})
    )

    async with exchange(gp_clock, private_key, IdTokens({NHS_NUMBER: ID_TOKEN}, fresh)) as tokens:
        with pytest.raises(SignInAgain) as refused:
            await tokens.token_for(NHS_NUMBER)

    assert refused.value.supplier_code == "TOKEN_EXCHANGE_INVALID_GRANT"
    assert route.call_count == 1


async def test_a_fresh_id_token_refused_too_is_sign_in_again_without_asking_again(
    router: respx.MockRouter, gp_clock: FakeClock, private_key: RSAKey
) -> None:
    route = router.post(TOKEN_URL).mock(
        return_value=httpx.Response(400, json={"error": "invalid_grant"})
    )
    id_tokens = IdTokens({NHS_NUMBER: ID_TOKEN}, fresh={NHS_NUMBER: "fresh.id.token"})

    async with exchange(gp_clock, private_key, id_tokens) as tokens:
        with pytest.raises(SignInAgain) as refused:
            await tokens.token_for(NHS_NUMBER)

    assert refused.value.supplier_code == "TOKEN_EXCHANGE_INVALID_GRANT"
    assert route.call_count == 2
    assert id_tokens.refused == [ID_TOKEN]
    assert "fresh.id.token" not in str(refused.value)


async def test_sandbox_tokens_are_fixed() -> None:
    tokens = SandboxPatientTokens("open")

    assert await tokens.token_for(NHS_NUMBER) == "open"
    assert await tokens.token_for(NHS_NUMBER, renew=True) == "open"


async def test_prod_needs_the_platform_and_a_source_of_id_tokens(
    gp_clock: FakeClock, private_key: RSAKey, tmp_path: Path
) -> None:
    prod = Settings(_env_file=None, app_env="test").model_copy(update={"app_env": "prod"})
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_gpconnect_factory(
            prod, gp_clock, stack, gpconnect=gpconnect_settings()
        )
        with pytest.raises(PracticesFileInvalid, match="GPCONNECT_PFS_TOKEN_URL"):
            factory(practice_config())

    key_file = tmp_path / "platform.pem"
    key_file.write_bytes(private_key.as_pem(private=True))
    configured = gpconnect_settings().model_copy(
        update={
            "pfs_token_url": TOKEN_URL,
            "pfs_client_id": "our-api-key",
            "pfs_private_key_file": str(key_file),
            "pfs_key_id": "gp-online-1",
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(RuntimeError, match="NHS login ID tokens"):
            await create_gpconnect_factory(prod, gp_clock, stack, gpconnect=configured)
        factory = await create_gpconnect_factory(
            prod, gp_clock, stack, gpconnect=configured, id_tokens=IdTokens({})
        )
        assert factory(practice_config()).ods_code == "A81001"
