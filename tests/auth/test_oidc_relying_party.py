"""The NHS login relying party on its own: no app and no database, NHS login mocked with respx.

The HTTP tests in this folder show each refusal from outside; these pin down every
check of `app.auth.oidc` quickly and one at a time (they are what `make mutation`
runs against it): the boundary of each time limit, each field of the requests sent,
each claim read from userinfo.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.auth.oidc import (
    CLIENT_ASSERTION_LIFETIME,
    DISCOVERY_TTL,
    ID_TOKEN_LEEWAY,
    JWKS_MAX_AGE,
    JWKS_REFETCH_COOLDOWN,
    RelyingParty,
    RelyingPartyConfig,
    _oauth_error,
    identity_from_claims,
    identity_level_of,
    provider_mismatches,
    vectors_from_json,
    vectors_to_json,
)
from app.auth.problems import LoginFailed, NHSLoginUnavailable
from app.gp.types import GPCredentials
from tests.auth.conftest import CLIENT_ID, ISSUER, P9_VTR, MockOP
from tests.conftest import FakeClock

OP_KEY = RSAKey.generate_key(2048, auto_kid=True)
CLIENT_KEY = RSAKey.generate_key(2048)
VECTORS = ("P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm")
REDIRECT_URI = "https://testserver/v1/auth/callback"
SUB = "nhs-login-subject-1"
NONCE = "the-nonce"


def config(**changes: Any) -> RelyingPartyConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "private_key": CLIENT_KEY,
        "redirect_uri": REDIRECT_URI,
        "scopes": "openid profile gp_integration_credentials",
        "vectors": VECTORS,
        "pkce": True,
        "app_redirect_uris": frozenset(),
        "timeout_seconds": 3.5,
    }
    values.update(changes)
    return RelyingPartyConfig(**values)


@pytest.fixture
def op(clock: FakeClock) -> MockOP:
    op = MockOP(clock=clock, key=OP_KEY)
    op.claims = {"sub": SUB, "vot": "P9.Cp.Cd", "nhs_number": "9000000009"}
    op.nonce = NONCE
    return op


class Wire:
    """The respx routes, so a test can change an answer or count calls."""

    def __init__(self, router: respx.MockRouter, op: MockOP) -> None:
        self.jwks_keys: list[dict[str, Any]] = [OP_KEY.as_dict(private=False)]
        self.discovery = router.get(f"{ISSUER}/.well-known/openid-configuration").mock(
            side_effect=lambda _r: httpx.Response(200, json=op.discovery())
        )
        self.jwks = router.get(f"{ISSUER}/.well-known/jwks.json").mock(
            side_effect=lambda _r: httpx.Response(200, json={"keys": self.jwks_keys})
        )
        self.token = router.post(f"{ISSUER}/token").mock(side_effect=op.token)
        self.userinfo = router.get(f"{ISSUER}/userinfo").mock(side_effect=op.userinfo)


@pytest.fixture
async def wire(op: MockOP) -> AsyncIterator[Wire]:
    with respx.mock(assert_all_called=False) as router:
        yield Wire(router, op)


@pytest.fixture
async def rp(wire: Wire, clock: FakeClock) -> AsyncIterator[RelyingParty]:
    async with httpx.AsyncClient() as http:
        yield RelyingParty(config(), http, clock)


async def complete(rp: RelyingParty, code: str = "code-1", verifier: str | None = "v" * 43) -> Any:
    return await rp.complete(
        code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier, nonce=NONCE, vectors=VECTORS
    )


def without_kid(op: MockOP) -> None:
    claims = jwt.decode(op.id_token(), OP_KEY, algorithms=["RS512"]).claims
    op.raw_id_token = jwt.encode({"alg": "RS512"}, claims, OP_KEY, algorithms=["RS512"])


async def verify(rp: RelyingParty, op: MockOP) -> dict[str, Any]:
    return await rp.verify_id_token(op.id_token(), nonce=NONCE, vectors=VECTORS)


# --- vectors and discovery -----------------------------------------------------------


def test_vectors_round_trip_as_compact_json() -> None:
    assert vectors_from_json(P9_VTR) == VECTORS
    assert vectors_to_json(VECTORS) == P9_VTR
    assert identity_level_of("P5.Cp.Cd") == "P5"


NOT_AN_ARRAY = "vtr must be a non-empty JSON array"
NOT_A_LEVEL = "each vector must start with P0, P5 or P9"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", NOT_AN_ARRAY),
        ('"P9.Cp.Cd"', NOT_AN_ARRAY),
        ('{"P9": 1}', NOT_AN_ARRAY),
        ('["P9.Cp.Cd", 9]', NOT_A_LEVEL),
        ('["P7.Cp.Cd"]', NOT_A_LEVEL),
        ('["Cp.P9"]', NOT_A_LEVEL),
    ],
)
def test_a_vtr_that_is_not_a_list_of_p0_p5_p9_vectors_is_refused(value: str, message: str) -> None:
    # Said to whoever configured NHS_LOGIN_VTR, or asked for a vtr at sign-in.
    with pytest.raises(ValueError) as refused:
        vectors_from_json(value)
    assert str(refused.value) == message


def test_each_level_may_start_a_vector() -> None:
    assert vectors_from_json('["P0.Cp.Cd","P5.Cp.Cd","P9"]') == ("P0.Cp.Cd", "P5.Cp.Cd", "P9")


PRIVATE_KEY_JWT = "private_key_jwt client authentication"
ASSERTIONS = "client assertions signed RS512"
NHS_LOGIN_DISCOVERY = {
    "id_token_signing_alg_values_supported": ["RS512"],
    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    "token_endpoint_auth_signing_alg_values_supported": ["RS512"],
    "code_challenge_methods_supported": ["S256"],
}


def test_what_nhs_login_advertises_is_enough() -> None:
    assert provider_mismatches(NHS_LOGIN_DISCOVERY, pkce=True) == []
    # Assertion algorithms not advertised at all: nothing says RS512 is refused.
    without = {k: v for k, v in NHS_LOGIN_DISCOVERY.items() if "signing_alg" not in k or "id_" in k}
    assert provider_mismatches(without, pkce=True) == []


@pytest.mark.parametrize(
    ("name", "value", "missing"),
    [
        ("id_token_signing_alg_values_supported", ["RS256"], "ID tokens signed RS512"),
        ("id_token_signing_alg_values_supported", None, "ID tokens signed RS512"),
        ("id_token_signing_alg_values_supported", "RS512", "ID tokens signed RS512"),
        ("token_endpoint_auth_methods_supported", ["client_secret_basic"], PRIVATE_KEY_JWT),
        ("token_endpoint_auth_methods_supported", None, PRIVATE_KEY_JWT),
        ("token_endpoint_auth_signing_alg_values_supported", ["RS256"], ASSERTIONS),
        ("code_challenge_methods_supported", ["plain"], "PKCE with S256"),
        ("code_challenge_methods_supported", None, "PKCE with S256"),
    ],
)
def test_each_thing_nhs_login_sign_in_needs_is_checked(
    name: str, value: object, missing: str
) -> None:
    # Shown on /readyz as they are: an operator reads them.
    document = {**NHS_LOGIN_DISCOVERY, name: value}
    if value is None:
        del document[name]
    assert provider_mismatches(document, pkce=True) == [missing]


def test_pkce_is_only_asked_of_the_provider_when_used() -> None:
    document = {**NHS_LOGIN_DISCOVERY, "code_challenge_methods_supported": ["plain"]}
    assert provider_mismatches(document, pkce=False) == []


async def test_discovery_is_read_from_the_issuer_and_cached_for_its_ttl(
    rp: RelyingParty, wire: Wire, clock: FakeClock
) -> None:
    metadata = await rp.metadata()
    assert wire.discovery.calls.last.request.headers["accept"] == "application/json"
    assert wire.discovery.calls.last.request.extensions["timeout"]["read"] == 3.5
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.authorization_endpoint == f"{ISSUER}/authorize"
    assert metadata.userinfo_endpoint == f"{ISSUER}/userinfo"
    assert metadata.jwks_uri == f"{ISSUER}/.well-known/jwks.json"
    assert metadata.iss_parameter_supported is False
    assert rp.provider_problems == []
    clock.advance(DISCOVERY_TTL - timedelta(seconds=1))
    await rp.metadata()
    assert wire.discovery.call_count == 1
    clock.advance(timedelta(seconds=1))
    await rp.metadata()
    assert wire.discovery.call_count == 2


async def test_discovery_is_read_below_the_issuers_path(clock: FakeClock, op: MockOP) -> None:
    issuer = "https://op.example.test/realmX"
    op.discovery_override = {"issuer": f"{issuer}/"}
    with respx.mock() as router:
        route = router.get(f"{issuer}/.well-known/openid-configuration").mock(
            return_value=httpx.Response(200, json=op.discovery())
        )
        async with httpx.AsyncClient() as http:
            await RelyingParty(config(issuer=f"{issuer}/"), http, clock).metadata()
    assert route.call_count == 1


async def test_a_provider_without_s256_is_reported_when_pkce_is_used(
    wire: Wire, op: MockOP, clock: FakeClock
) -> None:
    op.discovery_override = {"code_challenge_methods_supported": ["plain"]}
    async with httpx.AsyncClient() as http:
        with_pkce = RelyingParty(config(pkce=True), http, clock)
        await with_pkce.metadata()
        without = RelyingParty(config(pkce=False), http, clock)
        await without.metadata()
    assert with_pkce.provider_problems == ["PKCE with S256"]
    assert without.provider_problems == []


async def test_concurrent_first_reads_fetch_discovery_once(rp: RelyingParty, wire: Wire) -> None:
    first, second = await asyncio.gather(rp.metadata(), rp.metadata())
    assert first == second
    assert wire.discovery.call_count == 1


async def test_an_issuer_with_a_trailing_slash_is_discovered_once(
    wire: Wire, clock: FakeClock, op: MockOP
) -> None:
    op.discovery_override = {"issuer": f"{ISSUER}/"}
    async with httpx.AsyncClient() as http:
        rp = RelyingParty(config(issuer=f"{ISSUER}/"), http, clock)
        assert (await rp.metadata()).issuer == f"{ISSUER}/"
    assert wire.discovery.call_count == 1


@pytest.mark.parametrize(
    ("advertised", "supported"), [(True, True), ("true", False), (False, False), (None, False)]
)
async def test_only_a_true_iss_parameter_flag_counts(
    rp: RelyingParty, op: MockOP, advertised: object, supported: bool
) -> None:
    op.discovery_override = {"authorization_response_iss_parameter_supported": advertised}
    assert (await rp.metadata()).iss_parameter_supported is supported


@pytest.mark.parametrize(
    "field",
    ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"],
)
async def test_an_incomplete_discovery_document_is_unavailable(
    rp: RelyingParty, op: MockOP, wire: Wire, field: str
) -> None:
    wire.discovery.side_effect = lambda _r: httpx.Response(
        200, json={k: v for k, v in op.discovery().items() if k != field}
    )
    with pytest.raises(NHSLoginUnavailable):
        await rp.metadata()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(201, json={}),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=["a", "list"]),
    ],
)
async def test_discovery_that_fails_or_is_not_a_json_object_is_unavailable(
    rp: RelyingParty, wire: Wire, answer: httpx.Response
) -> None:
    wire.discovery.side_effect = None
    wire.discovery.return_value = answer
    with pytest.raises(NHSLoginUnavailable):
        await rp.metadata()


async def test_an_unreachable_provider_is_unavailable(rp: RelyingParty, wire: Wire) -> None:
    wire.discovery.side_effect = httpx.ConnectError("down")
    with pytest.raises(NHSLoginUnavailable):
        await rp.metadata()


async def test_discovery_naming_another_issuer_is_unavailable(rp: RelyingParty, op: MockOP) -> None:
    op.discovery_override = {"issuer": "https://other-op.example.test"}
    with pytest.raises(NHSLoginUnavailable):
        await rp.metadata()


async def test_what_the_provider_cannot_do_is_kept_and_logged(
    rp: RelyingParty, op: MockOP, caplog: pytest.LogCaptureFixture
) -> None:
    op.discovery_override = {"token_endpoint_auth_methods_supported": ["client_secret_basic"]}
    await rp.metadata()
    assert rp.provider_problems == ["private_key_jwt client authentication"]
    assert "does not offer: private_key_jwt" in caplog.text


async def test_the_start_up_check_reads_discovery_and_survives_an_outage(
    rp: RelyingParty, wire: Wire
) -> None:
    wire.discovery.side_effect = httpx.ConnectError("down")
    await rp.check_provider()
    assert rp.provider_problems is None
    wire.discovery.side_effect = None
    wire.discovery.return_value = httpx.Response(200, json=MockOP(FakeClock()).discovery())
    await rp.check_provider()
    assert rp.provider_problems == []


# --- the authorization response's iss (RFC 9207) --------------------------------------


async def test_iss_may_be_absent_unless_advertised(rp: RelyingParty, op: MockOP) -> None:
    await rp.check_response_issuer(None)
    await rp.check_response_issuer(ISSUER)
    with pytest.raises(LoginFailed):
        await rp.check_response_issuer("https://other-op.example.test")


async def test_an_advertised_iss_must_be_present(rp: RelyingParty, op: MockOP) -> None:
    op.discovery_override = {"authorization_response_iss_parameter_supported": True}
    with pytest.raises(LoginFailed):
        await rp.check_response_issuer(None)
    await rp.check_response_issuer(ISSUER)


# --- the authorization request ---------------------------------------------------------


async def test_the_authorization_url_carries_every_parameter(rp: RelyingParty) -> None:
    url = await rp.authorization_url(
        state="s-1", nonce="n-1", code_verifier="v" * 43, vectors=VECTORS
    )
    assert url.startswith(f"{ISSUER}/authorize?")
    assert {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()} == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "response_mode": "query",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile gp_integration_credentials",
        "state": "s-1",
        "nonce": "n-1",
        "vtr": P9_VTR,
        "code_challenge": create_s256_code_challenge("v" * 43),
        "code_challenge_method": "S256",
    }


async def test_without_pkce_no_challenge_is_sent_and_a_query_is_kept(
    rp: RelyingParty, op: MockOP
) -> None:
    op.discovery_override = {"authorization_endpoint": f"{ISSUER}/authorize?prompt=login"}
    url = await rp.authorization_url(state="s", nonce="n", code_verifier=None, vectors=VECTORS)
    assert url.startswith(f"{ISSUER}/authorize?prompt=login&client_id=")
    query = parse_qs(urlsplit(url).query)
    assert "code_challenge" not in query and "code_challenge_method" not in query


# --- the code exchange --------------------------------------------------------------------


async def test_a_good_exchange_gives_the_identity_and_the_token(
    rp: RelyingParty, op: MockOP, clock: FakeClock
) -> None:
    identity = await complete(rp)
    assert identity.sub == SUB
    assert identity.identity_level == "P9"
    assert identity.nhs_number == "9000000009"
    assert identity.id_token is not None
    claims = jwt.decode(identity.id_token, OP_KEY, algorithms=["RS512"]).claims
    assert claims["nonce"] == NONCE
    expires = datetime.fromtimestamp(int(clock.now().timestamp()) + 3600, UTC)
    assert identity.id_token_expires_at == expires


async def test_the_token_request_is_what_nhs_login_expects(
    rp: RelyingParty, op: MockOP, wire: Wire, clock: FakeClock
) -> None:
    clock.advance(timedelta(days=3))  # the assertion's times come from the injected clock
    await complete(rp, code="code-7")
    request = op.token_requests[-1]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.extensions["timeout"]["read"] == 3.5
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "code-7"
    assert form["redirect_uri"] == REDIRECT_URI
    assert form["client_id"] == CLIENT_ID
    assert form["code_verifier"] == "v" * 43
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = jwt.decode(form["client_assertion"], CLIENT_KEY, algorithms=["RS512"])
    assert assertion.header["alg"] == "RS512"
    now = int(clock.now().timestamp())
    assert assertion.claims["iss"] == assertion.claims["sub"] == CLIENT_ID
    assert assertion.claims["aud"] == f"{ISSUER}/token"
    assert assertion.claims["iat"] == now
    assert (
        assertion.claims["exp"]
        == now + int(CLIENT_ASSERTION_LIFETIME.total_seconds())
        == (now + 300)
    )
    (call,) = wire.userinfo.calls
    assert call.request.headers["authorization"] == "Bearer at-1"
    assert call.request.headers["accept"] == "application/json"
    assert call.request.extensions["timeout"]["read"] == 3.5


async def test_the_exchange_checks_the_nonce_of_this_sign_in(rp: RelyingParty, op: MockOP) -> None:
    op.nonce = "another-sign-in"
    with pytest.raises(LoginFailed):
        await complete(rp)


async def test_without_pkce_no_verifier_is_sent(rp: RelyingParty, op: MockOP) -> None:
    await complete(rp, verifier=None)
    assert "code_verifier" not in parse_qs(op.token_requests[-1].content.decode())


@pytest.mark.parametrize("status", [500, 503])
async def test_a_token_endpoint_failure_is_unavailable(
    rp: RelyingParty, op: MockOP, status: int
) -> None:
    op.token_status = status
    with pytest.raises(NHSLoginUnavailable):
        await complete(rp)


@pytest.mark.parametrize("status", [400, 401, 201, 499])
async def test_a_token_endpoint_refusal_is_login_failed(
    rp: RelyingParty, op: MockOP, status: int
) -> None:
    op.token_status = status
    with pytest.raises(LoginFailed):
        await complete(rp)


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "at-1"},
        {"id_token": "ID"},
        {"id_token": 1, "access_token": "at-1"},
        {"id_token": "ID", "access_token": 1},
        ["not", "an", "object"],
    ],
)
async def test_a_token_response_without_both_tokens_is_login_failed(
    rp: RelyingParty, op: MockOP, wire: Wire, body: Any
) -> None:
    body = json.loads(json.dumps(body).replace('"ID"', json.dumps(op.id_token())))
    wire.token.side_effect = None
    wire.token.return_value = httpx.Response(200, json=body)
    with pytest.raises(LoginFailed):
        await complete(rp)
    assert not wire.userinfo.called


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        (httpx.Response(500), NHSLoginUnavailable),
        (httpx.Response(401), LoginFailed),
        (httpx.Response(204), LoginFailed),
        (httpx.Response(200, json=["x"]), LoginFailed),
        (httpx.Response(200, json={"sub": "someone-else"}), LoginFailed),
        (httpx.Response(200, json={}), LoginFailed),
    ],
)
async def test_userinfo_must_answer_for_the_same_subject(
    rp: RelyingParty, wire: Wire, answer: httpx.Response, refusal: type[Exception]
) -> None:
    wire.userinfo.side_effect = None
    wire.userinfo.return_value = answer
    with pytest.raises(refusal):
        await complete(rp)


@pytest.mark.parametrize(
    ("body", "logged"),
    [
        ({"error": "invalid_grant"}, "invalid_grant"),
        (
            {"error": "invalid_grant", "error_description": "Code for NHS 9000000009"},
            "invalid_grant",
        ),
        ({"error": "Free text with a name in it"}, "no error code"),
        ({"error": "x" * 65}, "no error code"),
        ({"error": 7}, "no error code"),
        (["invalid_grant"], "no error code"),
        ("not json", "no error code"),
    ],
)
def test_only_an_oauth_error_code_is_ever_logged(body: Any, logged: str) -> None:
    response = (
        httpx.Response(400, text=body) if isinstance(body, str) else httpx.Response(400, json=body)
    )
    assert _oauth_error(response) == logged


# --- the ID token ---------------------------------------------------------------------------


async def test_a_good_id_token_gives_its_claims(rp: RelyingParty, op: MockOP) -> None:
    claims = await verify(rp, op)
    assert claims["sub"] == SUB and claims["vot"] == "P9.Cp.Cd"


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        import base64

        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}.c2ln"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        _unsigned({"alg": "none"}, {"sub": SUB}),
        _unsigned({"alg": "RS256", "kid": OP_KEY.kid}, {"sub": SUB}),
        _unsigned({"kid": OP_KEY.kid}, {"sub": SUB}),
    ],
)
async def test_a_token_that_is_not_an_rs512_jws_is_refused_before_any_key_fetch(
    rp: RelyingParty, wire: Wire, token: str
) -> None:
    with pytest.raises(LoginFailed):
        await rp.verify_id_token(token, nonce=NONCE, vectors=VECTORS)
    assert not wire.jwks.called


@pytest.mark.parametrize(
    "override",
    [
        {"iss": "https://other-op.example.test"},
        {"iss": None},
        {"aud": "another-client"},
        {"aud": None},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"nonce": "another-nonce"},
        {"nonce": None},
        {"vot": "P5.Cp.Cd"},
        {"vot": None},
        {"vot": ["P9.Cp.Cd"]},
        {"aud": [CLIENT_ID, "another-client"]},
        {"aud": [CLIENT_ID, "another-client"], "azp": "another-client"},
    ],
    ids=str,
)
async def test_each_claim_nhs_login_requires_is_checked(
    rp: RelyingParty, op: MockOP, override: dict[str, Any]
) -> None:
    op.id_token_override = override
    with pytest.raises(LoginFailed):
        await verify(rp, op)


async def test_several_audiences_need_azp_naming_this_client(rp: RelyingParty, op: MockOP) -> None:
    op.id_token_override = {"aud": [CLIENT_ID, "another-client"], "azp": CLIENT_ID}
    await verify(rp, op)
    op.id_token_override = {"aud": [CLIENT_ID]}
    await verify(rp, op)


async def test_exp_and_iat_have_exactly_the_leeway(
    rp: RelyingParty, op: MockOP, clock: FakeClock
) -> None:
    now = int(clock.now().timestamp())
    leeway = int(ID_TOKEN_LEEWAY.total_seconds())
    op.id_token_override = {"exp": now - leeway + 1, "iat": now + leeway}
    await verify(rp, op)
    for override in ({"exp": now - leeway - 1}, {"iat": now + leeway + 1}):
        op.id_token_override = override
        with pytest.raises(LoginFailed):
            await verify(rp, op)


async def test_a_bad_signature_is_refused(rp: RelyingParty, op: MockOP) -> None:
    op.signing_key = RSAKey.generate_key(2048)
    with pytest.raises(LoginFailed):
        await verify(rp, op)


async def test_why_a_token_was_refused_is_logged_by_claim_name_only(
    rp: RelyingParty, op: MockOP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.auth.oidc")
    op.id_token_override = {"nonce": "sensitive-nonce"}
    with pytest.raises(LoginFailed):
        await verify(rp, op)
    op.id_token_override = {"custom": "x"}
    op.signing_key = RSAKey.generate_key(2048)
    with pytest.raises(LoginFailed):
        await verify(rp, op)
    messages = [r.getMessage() for r in caplog.records]
    assert "ID token rejected: invalid_claim (claim nonce)" in messages
    assert "ID token rejected: BadSignatureError" in messages
    assert "sensitive-nonce" not in caplog.text


# --- signing keys ---------------------------------------------------------------------------


async def test_keys_are_fetched_once_and_trusted_until_their_max_age(
    rp: RelyingParty, op: MockOP, wire: Wire, clock: FakeClock
) -> None:
    await verify(rp, op)
    clock.advance(JWKS_MAX_AGE - timedelta(seconds=1))
    await verify(rp, op)
    assert wire.jwks.call_count == 1
    assert wire.jwks.calls.last.request.headers["accept"] == "application/json"
    clock.advance(timedelta(seconds=1))
    await verify(rp, op)
    assert wire.jwks.call_count == 2


async def test_an_unknown_kid_refetches_at_most_once_per_cool_down(
    rp: RelyingParty, op: MockOP, wire: Wire, clock: FakeClock
) -> None:
    await verify(rp, op)
    op.header_override = {"kid": "rotated"}
    clock.advance(JWKS_REFETCH_COOLDOWN - timedelta(seconds=1))
    with pytest.raises(LoginFailed):
        await verify(rp, op)
    assert wire.jwks.call_count == 1
    clock.advance(timedelta(seconds=1))
    wire.jwks_keys = [{**OP_KEY.as_dict(private=False), "kid": "rotated"}]
    await verify(rp, op)
    assert wire.jwks.call_count == 2


async def test_an_empty_key_set_is_fetched_again_at_once(
    rp: RelyingParty, op: MockOP, wire: Wire
) -> None:
    wire.jwks_keys = []
    with pytest.raises(LoginFailed):
        await verify(rp, op)
    wire.jwks_keys = [OP_KEY.as_dict(private=False)]
    await verify(rp, op)
    assert wire.jwks.call_count == 2


@pytest.mark.parametrize("document", [{}, {"keys": []}])
async def test_a_jwks_without_keys_is_a_failed_sign_in(
    rp: RelyingParty, op: MockOP, wire: Wire, document: dict[str, Any]
) -> None:
    wire.jwks.side_effect = lambda _r: httpx.Response(200, json=document)
    with pytest.raises(LoginFailed):
        await verify(rp, op)


async def test_a_rotated_key_is_looked_up_by_its_kid_after_the_refetch(
    rp: RelyingParty, op: MockOP, wire: Wire, clock: FakeClock
) -> None:
    await verify(rp, op)
    other = RSAKey.generate_key(2048, auto_kid=True)
    wire.jwks_keys = [other.as_dict(private=False), {**GOOD_KEY, "kid": "rotated"}]
    op.header_override = {"kid": "rotated"}
    clock.advance(JWKS_REFETCH_COOLDOWN)
    await verify(rp, op)


async def test_a_lone_key_signs_tokens_that_name_no_kid(
    rp: RelyingParty, op: MockOP, wire: Wire
) -> None:
    without_kid(op)
    await verify(rp, op)  # the JWKS has one key, with a kid


async def test_a_lone_key_without_a_kid_signs_tokens_without_one(
    rp: RelyingParty, op: MockOP, wire: Wire
) -> None:
    wire.jwks_keys = [{k: v for k, v in OP_KEY.as_dict(private=False).items() if k != "kid"}]
    without_kid(op)
    await verify(rp, op)


async def test_a_token_without_a_kid_needs_a_lone_key(
    rp: RelyingParty, op: MockOP, wire: Wire
) -> None:
    other = RSAKey.generate_key(2048, auto_kid=True).as_dict(private=False)
    wire.jwks_keys = [OP_KEY.as_dict(private=False), other]
    op.raw_id_token = None
    await verify(rp, op)
    without_kid(op)
    with pytest.raises(LoginFailed):
        await verify(rp, op)


GOOD_KEY = OP_KEY.as_dict(private=False)
UNUSABLE_KEYS: dict[str, object] = {
    "not an object": "a string",
    "not RSA": {"kty": "oct", "k": "c2VjcmV0", "kid": OP_KEY.kid},
    "no kty": {k: v for k, v in GOOD_KEY.items() if k != "kty"},
    "for encryption": {**GOOD_KEY, "use": "enc"},
    "another algorithm": {**GOOD_KEY, "alg": "RS256"},
    "cannot be read": {**GOOD_KEY, "n": "!!!"},
}


@pytest.mark.parametrize("entry", UNUSABLE_KEYS.values(), ids=UNUSABLE_KEYS.keys())
async def test_a_jwks_key_not_for_rs512_signatures_is_never_used(
    rp: RelyingParty, op: MockOP, wire: Wire, entry: object
) -> None:
    wire.jwks_keys = [entry]  # type: ignore[list-item]
    with pytest.raises(LoginFailed):
        await verify(rp, op)


@pytest.mark.parametrize("entry", UNUSABLE_KEYS.values(), ids=UNUSABLE_KEYS.keys())
async def test_an_unusable_key_does_not_hide_the_usable_one_after_it(
    rp: RelyingParty, op: MockOP, wire: Wire, entry: object
) -> None:
    if isinstance(entry, dict):
        entry = {**entry, "kid": "unusable"}
    wire.jwks_keys = [entry, GOOD_KEY]  # type: ignore[list-item]
    await verify(rp, op)
    # Skipped, not counted: the usable key is still the lone key, used without a kid.
    without_kid(op)
    await verify(rp, op)


async def test_a_key_marked_for_rs512_signatures_is_used(
    rp: RelyingParty, op: MockOP, wire: Wire
) -> None:
    wire.jwks_keys = [{**OP_KEY.as_dict(private=False), "use": "sig", "alg": "RS512"}]
    await verify(rp, op)


async def test_an_unreadable_key_beside_a_good_one_is_skipped(
    rp: RelyingParty, op: MockOP, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    broken = {"kty": "RSA", "kid": "broken", "n": "!!!", "e": "!!!"}
    wire.jwks_keys = [broken, OP_KEY.as_dict(private=False)]
    await verify(rp, op)
    assert "cannot be read" in caplog.text


# --- who signed in, from the claims ---------------------------------------------------------


CLAIMS = {"sub": SUB, "vot": "P9.Cp.Cd"}
USERINFO: dict[str, Any] = {
    "sub": SUB,
    "nhs_number": " 9000000009 ",
    "family_name": " Smith ",
    "birthdate": "1980-02-29",
    "gp_registration_details": {"gp_ods_code": " a12345 "},
    "gp_integration_credentials": {
        "gp_user_id": "user-1",
        "gp_linkage_key": "key-1",
        "gp_ods_code": "b81234",
    },
}


def test_every_userinfo_claim_is_read_and_tidied() -> None:
    identity = identity_from_claims(CLAIMS, USERINFO)
    assert identity.sub == SUB
    assert identity.vot == "P9.Cp.Cd"
    assert identity.identity_level == "P9"
    assert identity.nhs_number == "9000000009"
    assert identity.family_name == "Smith"
    assert identity.birth_date == date(1980, 2, 29)
    assert identity.ods_code == "A12345"
    assert identity.gp_credentials == GPCredentials("user-1", "key-1", "B81234")
    assert identity.id_token is None


@pytest.mark.parametrize("sub", ["", "x" * 256], ids=["empty", "longer than 255"])
def test_a_subject_that_is_empty_or_too_long_is_refused(sub: str) -> None:
    with pytest.raises(LoginFailed):
        identity_from_claims({**CLAIMS, "sub": sub}, {})


def test_a_subject_of_255_characters_is_accepted() -> None:
    assert identity_from_claims({**CLAIMS, "sub": "x" * 255}, {}).sub == "x" * 255


def test_credentials_name_the_practice_when_registration_does_not() -> None:
    userinfo = {**USERINFO, "gp_registration_details": "not an object"}
    identity = identity_from_claims(CLAIMS, userinfo)
    assert identity.ods_code == "B81234"
    credentials = dict(USERINFO["gp_integration_credentials"])
    del credentials["gp_ods_code"]
    identity = identity_from_claims(CLAIMS, {**USERINFO, "gp_integration_credentials": credentials})
    assert identity.gp_credentials == GPCredentials("user-1", "key-1", "A12345")
    assert identity.ods_code == "A12345"


@pytest.mark.parametrize("missing", ["gp_user_id", "gp_linkage_key", "gp_ods_code"])
def test_credentials_missing_a_part_are_no_credentials(missing: str) -> None:
    credentials = {**USERINFO["gp_integration_credentials"], missing: "  "}
    identity = identity_from_claims(CLAIMS, {"sub": SUB, "gp_integration_credentials": credentials})
    assert identity.gp_credentials is None
    assert identity.ods_code is None


def test_credentials_that_are_not_an_object_are_ignored() -> None:
    identity = identity_from_claims(CLAIMS, {"gp_integration_credentials": ["user-1"]})
    assert identity.gp_credentials is None


@pytest.mark.parametrize(
    ("claim", "value", "field"),
    [
        ("nhs_number", "900000000", "nhs_number"),
        ("nhs_number", "90000000091", "nhs_number"),
        ("nhs_number", "900000000X", "nhs_number"),
        ("nhs_number", 9000000009, "nhs_number"),
        ("family_name", "   ", "family_name"),
        ("birthdate", "29/02/1980", "birth_date"),
        ("birthdate", "", "birth_date"),
        ("gp_registration_details", {"gp_ods_code": "A1"}, "ods_code"),
        ("gp_registration_details", {"gp_ods_code": "A1234-"}, "ods_code"),
    ],
)
def test_a_claim_not_shaped_as_expected_is_absent(claim: str, value: object, field: str) -> None:
    identity = identity_from_claims(CLAIMS, {"sub": SUB, claim: value})
    assert getattr(identity, field) is None
