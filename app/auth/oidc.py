"""The OpenID Connect relying party: NHS login for patients, NHS CIS2 for practice staff.

One class, two configurations. Follows the NHS login interface specification:
authorization code flow with `state`, `nonce` and `vtr`; `private_key_jwt` client
authentication with an RS512 assertion; RS512 ID tokens checked against the issuer's
JWKS; userinfo whose `sub` must match the ID token's. What differs for NHS CIS2 is
configuration (`RelyingPartyConfig`): how the strength of a sign-in is asked for and
stated (`acr_values` and `acr` rather than `vtr` and `vot`, `Assurance`), the signing
algorithm, and the provider's name in logs. The claims are read by each side's own
code (`identity_from_claims` here, `app.staff.roles` for CIS2).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import (  # type: ignore[import-untyped]
    PrivateKeyJWT,
    private_key_jwt_sign,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import RSAKey

from app.auth.problems import LoginFailed, NHSLoginUnavailable
from app.clock import Clock
from app.gp.registry import ODS_CODE_PATTERN
from app.gp.types import GPCredentials

logger = logging.getLogger(__name__)

# NHS login signs ID tokens with RS512 and accepts client assertions signed with RS512 only.
SIGNING_ALG = "RS512"
# NHS login: the client assertion's exp must be short (no more than 5 minutes).
CLIENT_ASSERTION_LIFETIME = timedelta(minutes=5)
# Clock skew allowed on exp/iat of the ID token.
ID_TOKEN_LEEWAY = timedelta(seconds=60)
DISCOVERY_TTL = timedelta(hours=1)
# While discovery cannot be read, it is tried again this often (and at each sign-in).
DISCOVERY_RETRY_SECONDS = 60
# An unknown `kid` triggers one JWKS refetch, at most this often (key rotation, not a DoS lever).
JWKS_REFETCH_COOLDOWN = timedelta(seconds=60)
# Cached signing keys are trusted this long: a key NHS login withdraws from its JWKS
# stops being accepted within this time, not only at the next unknown `kid` or restart.
JWKS_MAX_AGE = timedelta(minutes=10)
# The ID token claims this relying party checks: only these names are ever logged.
CHECKED_CLAIMS = frozenset({"iss", "aud", "sub", "exp", "iat", "nbf", "nonce", "vot", "acr", "azp"})
# An OAuth error code (RFC 6749 §5.2) is logged only when it is shaped like one.
_OAUTH_ERROR = re.compile(r"[a-z_]{1,64}")
IDENTITY_LEVELS = ("P0", "P5", "P9")
_NHS_NUMBER = re.compile(r"\d{10}")
_ODS_CODE = re.compile(ODS_CODE_PATTERN.strip("^$"))


@dataclass(frozen=True, slots=True)
class Assurance:
    """How a provider is asked for the strength of a sign-in, and says what it met."""

    parameter: str  # in the authorization request
    claim: str  # in the ID token: one of the values asked for, else the sign-in fails
    as_json: bool  # a JSON array (NHS login's `vtr`), else space-separated (`acr_values`)

    def request_value(self, values: tuple[str, ...]) -> str:
        return vectors_to_json(values) if self.as_json else " ".join(values)


# NHS login: vectors of trust (`vtr`), the one met in `vot`.
NHS_LOGIN_ASSURANCE = Assurance(parameter="vtr", claim="vot", as_json=True)
# NHS CIS2: OpenID Connect's `acr_values`, the authenticator assurance level met in `acr`.
CIS2_ASSURANCE = Assurance(parameter="acr_values", claim="acr", as_json=False)


@dataclass(frozen=True, slots=True)
class RelyingPartyConfig:
    issuer: str
    client_id: str
    private_key: RSAKey
    redirect_uri: str
    scopes: str
    # The assurance values asked for and accepted: NHS login's vectors of trust, or
    # CIS2's acr values (`assurance` says which).
    vectors: tuple[str, ...]
    pkce: bool
    app_redirect_uris: frozenset[str]
    timeout_seconds: float = 10.0
    assurance: Assurance = NHS_LOGIN_ASSURANCE
    # Signs the client assertion, and the only algorithm accepted on ID tokens.
    signing_alg: str = SIGNING_ALG
    provider_name: str = "NHS login"  # in log lines only


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    # RFC 9207: the provider puts `iss` in every authorization response.
    iss_parameter_supported: bool = False


def provider_mismatches(
    document: dict[str, Any], *, pkce: bool, alg: str = SIGNING_ALG
) -> list[str]:
    """What the discovery document says the provider cannot do that signing in needs."""

    def offers(name: str, value: str, *, absent_ok: bool = False) -> bool:
        advertised = document.get(name)
        if advertised is None:
            return absent_ok
        return isinstance(advertised, list) and value in advertised

    problems = []
    if not offers("id_token_signing_alg_values_supported", alg):
        problems.append(f"ID tokens signed {alg}")
    if not offers("token_endpoint_auth_methods_supported", "private_key_jwt"):
        problems.append("private_key_jwt client authentication")
    if not offers("token_endpoint_auth_signing_alg_values_supported", alg, absent_ok=True):
        problems.append(f"client assertions signed {alg}")
    if pkce and not offers("code_challenge_methods_supported", "S256"):
        problems.append("PKCE with S256")
    return problems


@dataclass(frozen=True, slots=True)
class NHSLoginIdentity:
    """Who NHS login says signed in, from a verified ID token and matching userinfo."""

    sub: str
    identity_level: str  # P0, P5 or P9: the level of the vector NHS login asserted
    vot: str
    nhs_number: str | None
    family_name: str | None
    birth_date: date | None
    ods_code: str | None
    gp_credentials: GPCredentials | None = field(repr=False)
    # The verified ID token itself: GP Connect's patient-facing APIs exchange it for the
    # patient's access token. A bearer credential: stored only encrypted, never logged.
    id_token: str | None = field(default=None, repr=False)
    id_token_expires_at: datetime | None = None
    # NHS login's refresh token, when its token response holds one: it gets a fresh ID
    # token once this one has expired. A bearer credential too: kept as the ID token is.
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RefreshedIdToken:
    """A fresh ID token from NHS login's refresh grant, checked as at sign-in."""

    id_token: str = field(repr=False)
    expires_at: datetime
    # The rotated refresh token, or None when NHS login kept the one it was given.
    refresh_token: str | None = field(repr=False)


class RefreshRefused(Exception):
    """NHS login gave no fresh ID token for a refresh token: the patient signs in again."""


@dataclass(frozen=True, slots=True)
class VerifiedSignIn:
    """A finished authorization code flow: the checked ID token's claims and the userinfo
    with the same `sub`. Each provider's caller reads its own claims from these."""

    claims: dict[str, Any]
    userinfo: dict[str, Any]
    id_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)


def vectors_from_json(value: str) -> tuple[str, ...]:
    """Parse a `vtr` JSON array such as `["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]`."""
    parsed = json.loads(value)
    if not isinstance(parsed, list) or not parsed:
        raise ValueError("vtr must be a non-empty JSON array")
    if not all(
        isinstance(item, str) and item.split(".", 1)[0] in IDENTITY_LEVELS for item in parsed
    ):
        raise ValueError("each vector must start with P0, P5 or P9")
    return tuple(parsed)


def vectors_to_json(vectors: tuple[str, ...]) -> str:
    return json.dumps(list(vectors), separators=(",", ":"))


def identity_level_of(vector: str) -> str:
    return vector.split(".", 1)[0]


class NHSLoginAssertion(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's `private_key_jwt`, as NHS login requires: RS512 and at most 5 minutes.

    Authlib's defaults (RS256, one hour) are refused by NHS login. NHS CIS2 takes the
    same assertion, signed with its configured algorithm.
    """

    alg = SIGNING_ALG

    def __init__(self, token_endpoint: str, clock: Clock, alg: str = SIGNING_ALG) -> None:
        super().__init__(token_endpoint=token_endpoint, alg=alg)
        self.alg = alg
        self._clock = clock

    def sign(self, auth: ClientAuth, token_endpoint: str) -> str:
        # iss = sub = client_id and aud = token endpoint are set by Authlib; jti is random.
        assertion: str = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            issued_at=int(self._clock.now().timestamp()),
            expires_in=int(CLIENT_ASSERTION_LIFETIME.total_seconds()),
        )
        return assertion


class RelyingParty:
    """Talks to one OpenID provider (NHS login, or NHS CIS2) over one shared httpx client;
    caches discovery and keys."""

    def __init__(self, config: RelyingPartyConfig, http: httpx.AsyncClient, clock: Clock) -> None:
        self.config = config
        self._http = http
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._metadata_at: datetime | None = None
        self._keys: dict[str | None, RSAKey] = {}
        self._keys_at: datetime | None = None
        self._lock = asyncio.Lock()
        # What discovery says the provider cannot do; None until discovery has been read.
        self.provider_problems: list[str] | None = None
        # Why discovery could not be read the last time it was tried; None once it was.
        self.discovery_failure: str | None = None
        self._last_failure = ""

    # --- discovery and keys ----------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        now = self._clock.now()
        if self._metadata and self._metadata_at and now - self._metadata_at < DISCOVERY_TTL:
            return self._metadata
        async with self._lock:
            if self._metadata and self._metadata_at and now - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
            try:
                metadata, document = await self._discover()
            except NHSLoginUnavailable:
                self.discovery_failure = self._last_failure or "its answer could not be read"
                raise
            self.discovery_failure = None
            self.provider_problems = provider_mismatches(
                document, pkce=self.config.pkce, alg=self.config.signing_alg
            )
            if self.provider_problems:
                logger.warning(
                    "%s discovery does not offer: %s",
                    self.config.provider_name,
                    "; ".join(self.provider_problems),
                )
            self._metadata, self._metadata_at = metadata, now
            return metadata

    async def _discover(self) -> tuple[ProviderMetadata, dict[str, Any]]:
        """The discovery document, read and checked; why not in `_last_failure`."""
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._last_failure = ""
        document = await self._get_json(url)
        try:
            metadata = ProviderMetadata(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                userinfo_endpoint=str(document["userinfo_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                iss_parameter_supported=document.get(
                    "authorization_response_iss_parameter_supported"
                )
                is True,
            )
        except KeyError:
            self._last_failure = f"the discovery document at {url} is incomplete"
            logger.warning("%s %s", self.config.provider_name, self._last_failure)
            raise NHSLoginUnavailable() from None
        # OpenID Connect Discovery 4.3: the document's issuer must be the one we asked.
        if metadata.issuer != self.config.issuer:
            self._last_failure = f"the discovery document at {url} names another issuer"
            logger.warning("%s %s", self.config.provider_name, self._last_failure)
            raise NHSLoginUnavailable()
        return metadata, document

    async def check_provider(self) -> None:
        """Read discovery now (at start-up), so that a mismatch is reported before sign-ins."""
        # A failure is logged where it happened, and kept in `discovery_failure`.
        with contextlib.suppress(NHSLoginUnavailable):
            await self.metadata()

    async def keep_checking_provider(self, every: float) -> None:
        """`check_provider` now and, until discovery has been read, every `every` seconds:
        readiness then reports what the provider offers without waiting for a sign-in."""
        while True:
            await self.check_provider()
            if self.provider_problems is not None:
                return
            await asyncio.sleep(every)

    async def check_response_issuer(self, iss: str | None) -> None:
        """RFC 9207: the authorization response's `iss` must name our issuer.

        Required when the provider advertises it; compared whenever present. Stops a
        response from another provider (mix-up) being taken for NHS login's.
        """
        metadata = await self.metadata()
        if iss is None:
            if metadata.iss_parameter_supported:
                logger.info("authorization response refused: iss missing")
                raise LoginFailed()
            return
        if iss != metadata.issuer:
            logger.info("authorization response refused: iss names another issuer")
            raise LoginFailed()

    async def _signing_key(self, kid: str | None) -> RSAKey:
        now = self._clock.now()
        if not self._keys or self._keys_at is None or now - self._keys_at >= JWKS_MAX_AGE:
            await self._refresh_keys()
        key = self._keys.get(kid)
        if key is None:
            # NHS login rotates keys: refetch once on an unknown kid, with a cool-down.
            now = self._clock.now()
            if self._keys_at is None or now - self._keys_at >= JWKS_REFETCH_COOLDOWN:
                await self._refresh_keys()
                key = self._keys.get(kid)
        if key is None:
            logger.info("ID token signed with an unknown key")
            raise LoginFailed()
        return key

    async def _refresh_keys(self) -> None:
        metadata = await self.metadata()
        document = await self._get_json(metadata.jwks_uri)
        keys: dict[str | None, RSAKey] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or entry.get("kty") != "RSA":
                continue
            alg = self.config.signing_alg
            if entry.get("use", "sig") != "sig" or entry.get("alg", alg) != alg:
                continue
            try:
                keys[entry.get("kid")] = RSAKey.import_key(entry)
            except (JoseError, ValueError):
                logger.warning("%s JWKS holds a key that cannot be read", self.config.provider_name)
        if len(keys) == 1:
            keys.setdefault(None, next(iter(keys.values())))
        self._keys, self._keys_at = keys, self._clock.now()

    # --- the flow ----------------------------------------------------------------------

    async def authorization_url(
        self,
        *,
        state: str,
        nonce: str,
        code_verifier: str | None,
        vectors: tuple[str, ...],
    ) -> str:
        metadata = await self.metadata()
        params = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "response_mode": "query",
            "redirect_uri": self.config.redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            self.config.assurance.parameter: self.config.assurance.request_value(vectors),
        }
        if code_verifier is not None:
            params["code_challenge"] = create_s256_code_challenge(code_verifier)
            params["code_challenge_method"] = "S256"
        separator = "&" if urlsplit(metadata.authorization_endpoint).query else "?"
        return metadata.authorization_endpoint + separator + urlencode(params)

    async def complete(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str,
        vectors: tuple[str, ...],
    ) -> NHSLoginIdentity:
        """Exchange the code, verify the ID token and read userinfo: who NHS login says
        signed in."""
        verified = await self.verify_sign_in(
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            nonce=nonce,
            vectors=vectors,
        )
        return dataclasses.replace(
            identity_from_claims(verified.claims, verified.userinfo),
            id_token=verified.id_token,
            id_token_expires_at=datetime.fromtimestamp(int(verified.claims["exp"]), UTC),
            refresh_token=verified.refresh_token,
        )

    async def verify_sign_in(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str,
        vectors: tuple[str, ...],
    ) -> VerifiedSignIn:
        """Exchange the code, verify the ID token and read userinfo, whatever the provider."""
        name = self.config.provider_name
        tokens = await self._exchange_code(code, redirect_uri, code_verifier)
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            logger.info("%s token response lacks an ID or access token", name)
            raise LoginFailed()
        claims = await self.verify_id_token(id_token, nonce=nonce, vectors=vectors)
        userinfo = await self._userinfo(access_token)
        # NHS login (and OpenID Connect Core 5.3.2): the userinfo sub must equal the ID
        # token's, else the response is rejected.
        if userinfo.get("sub") != claims["sub"]:
            logger.info("%s userinfo sub does not match the ID token", name)
            raise LoginFailed()
        refresh_token = tokens.get("refresh_token")
        return VerifiedSignIn(
            claims=claims,
            userinfo=userinfo,
            id_token=id_token,
            refresh_token=refresh_token
            if isinstance(refresh_token, str) and refresh_token
            else None,
        )

    async def refresh_id_token(self, refresh_token: str, *, sub: str, vot: str) -> RefreshedIdToken:
        """A fresh ID token for the patient who signed in as `sub` with vector `vot`.

        The refresh grant at the token endpoint, with the same `private_key_jwt` client
        authentication as the code. Raises `RefreshRefused` when NHS login refuses the
        refresh token or answers without a valid ID token for that same sign-in, and
        `NHSLoginUnavailable` when it cannot be reached.
        """
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.config.client_id,
        }
        response = await self._token_request(form)
        if response.status_code != 200:
            logger.info(
                "NHS login token endpoint refused the refresh token (%s, %s)",
                response.status_code,
                _oauth_error(response),
            )
            raise RefreshRefused()
        try:
            tokens = _json_object(response, unavailable=False)
        except LoginFailed:
            raise RefreshRefused() from None
        id_token, rotated = tokens.get("id_token"), tokens.get("refresh_token")
        if not isinstance(id_token, str):
            # NHS login's interface specification lists the ID token as issued for the
            # code grant only: without one the refresh cannot stand in for a sign-in.
            logger.warning("NHS login refresh response holds no ID token")
            raise RefreshRefused()
        try:
            claims = await self.verify_refreshed_id_token(id_token, sub=sub, vot=vot)
        except LoginFailed:
            raise RefreshRefused() from None
        return RefreshedIdToken(
            id_token=id_token,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            refresh_token=rotated if isinstance(rotated, str) and rotated else None,
        )

    async def _exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.config.client_id,
        }
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        response = await self._token_request(form)
        if response.status_code != 200:
            # invalid_grant (a used or expired code), invalid_client, …: a failed sign-in.
            logger.info(
                "%s token endpoint refused the code (%s, %s)",
                self.config.provider_name,
                response.status_code,
                _oauth_error(response),
            )
            raise LoginFailed()
        return _json_object(response, unavailable=False)

    async def _token_request(self, form: dict[str, str]) -> httpx.Response:
        """POST `form` to the token endpoint, the client authenticated by an RS512
        assertion; NHS login failing (5xx, unreachable) is `NHSLoginUnavailable`."""
        metadata = await self.metadata()
        client_auth = ClientAuth(
            self.config.client_id,
            self.config.private_key,
            NHSLoginAssertion(metadata.token_endpoint, self._clock, self.config.signing_alg),
        )
        url, headers, body = client_auth.prepare(
            "POST",
            metadata.token_endpoint,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form),
        )
        response = await self._send("POST", url, headers=headers, content=body)
        if response.status_code >= 500:
            raise NHSLoginUnavailable()
        return response

    async def verify_id_token(
        self, id_token: str, *, nonce: str, vectors: tuple[str, ...]
    ) -> dict[str, Any]:
        """The ID token's claims, once every check has passed: NHS login's `vot` (or
        CIS2's `acr`) must be one of `vectors`."""
        assurance: dict[str, jwt.ClaimsOption] = {
            self.config.assurance.claim: {"essential": True, "values": list(vectors)}
        }
        return await self._verified_claims(
            id_token,
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
            **assurance,
        )

    async def verify_refreshed_id_token(
        self, id_token: str, *, sub: str, vot: str
    ) -> dict[str, Any]:
        """The claims of an ID token from the refresh grant (OpenID Connect Core 12.2):
        every check of sign-in, for the same subject and vector of trust. It carries no
        nonce of its own, so none is asked for."""
        return await self._verified_claims(
            id_token,
            sub={"essential": True, "value": sub},
            vot={"essential": True, "value": vot},
        )

    async def _verified_claims(
        self, id_token: str, *, sub: jwt.ClaimsOption, **expected: jwt.ClaimsOption
    ) -> dict[str, Any]:
        """The ID token's claims, checked: signature, `iss`, `aud`, `sub`, `exp`, `iat`
        and `expected` (`nonce`, `vot`, as the caller needs them)."""
        metadata = await self.metadata()
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError):
            logger.info("ID token is not a compact JWS")
            raise LoginFailed() from None
        # NHS login signs with RS512 only (CIS2 with its configured algorithm): `none`,
        # HS256 and the rest are refused outright.
        alg = self.config.signing_alg
        if header.get("alg") != alg:
            logger.info("ID token uses a refused algorithm")
            raise LoginFailed()
        key = await self._signing_key(header.get("kid"))
        leeway = int(ID_TOKEN_LEEWAY.total_seconds())
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock.now().timestamp()),
            leeway=leeway,
            iss={"essential": True, "value": metadata.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub=sub,
            exp={"essential": True},
            iat={"essential": True},
            **expected,
        )
        try:
            token = jwt.decode(id_token, key, algorithms=[alg])
            registry.validate(token.claims)
        except ClaimError as error:
            claim = error.claim if error.claim in CHECKED_CLAIMS else "other"
            logger.info("ID token rejected: %s (claim %s)", error.error, claim)
            raise LoginFailed() from None
        except (JoseError, ValueError) as error:
            logger.info("ID token rejected: %s", type(error).__name__)
            raise LoginFailed() from None
        claims = token.claims
        # OpenID Connect Core 3.1.3.7: several audiences need azp naming this client.
        audience = claims["aud"]
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != self.config.client_id:
            logger.info("ID token rejected: invalid_claim (claim azp)")
            raise LoginFailed()
        claim = self.config.assurance.claim
        if not isinstance(claims[claim], str):
            logger.info("ID token rejected: invalid_claim (claim %s)", claim)
            raise LoginFailed()
        return claims

    async def _userinfo(self, access_token: str) -> dict[str, Any]:
        metadata = await self.metadata()
        response = await self._send(
            "GET",
            metadata.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code >= 500:
            raise NHSLoginUnavailable()
        if response.status_code != 200:
            logger.info(
                "%s userinfo refused the access token (%s)",
                self.config.provider_name,
                response.status_code,
            )
            raise LoginFailed()
        return _json_object(response, unavailable=False)

    # --- HTTP -----------------------------------------------------------------------------

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._send("GET", url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            self._last_failure = f"{url} answered HTTP {response.status_code}"
            logger.warning("%s unavailable: %s", self.config.provider_name, self._last_failure)
            raise NHSLoginUnavailable()
        return _json_object(response, unavailable=True)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: str | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method,
                url,
                headers=headers,
                content=content,
                timeout=self.config.timeout_seconds,
            )
        except httpx.HTTPError as error:
            # Timeouts and connection failures: the provider is unreachable, not the user's fault.
            self._last_failure = f"{url} {_unreachable(error, self.config.timeout_seconds)}"
            logger.warning("%s unreachable: %s", self.config.provider_name, self._last_failure)
            raise NHSLoginUnavailable() from None


def _unreachable(error: httpx.HTTPError, timeout: float) -> str:
    """Why a call to NHS login got no answer, in words an operator can act on."""
    if isinstance(error, httpx.TimeoutException):
        return f"did not answer within {timeout:g} s ({type(error).__name__})"
    if isinstance(error, httpx.ConnectError):
        return f"cannot be connected to: {error or 'connection failed'} (ConnectError)"
    return f"failed: {type(error).__name__}"


def _json_object(response: httpx.Response, *, unavailable: bool) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        logger.warning("NHS login sent a response that is not a JSON object")
        raise NHSLoginUnavailable() if unavailable else LoginFailed()
    return body


def _oauth_error(response: httpx.Response) -> str:
    """The OAuth `error` code of a token endpoint refusal, never its free-text description."""
    try:
        body = response.json()
    except ValueError:
        return "no error code"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error):
        return error
    return "no error code"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _matching(value: str | None, pattern: re.Pattern[str]) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


def identity_from_claims(claims: dict[str, Any], userinfo: dict[str, Any]) -> NHSLoginIdentity:
    """Who signed in, from verified ID token claims and the matching userinfo."""
    vot = str(claims["vot"])
    sub = str(claims["sub"])
    if not sub or len(sub) > 255:
        raise LoginFailed()
    birth_date: date | None = None
    if birthdate := _text(userinfo.get("birthdate")):
        try:
            birth_date = date.fromisoformat(birthdate)
        except ValueError:
            birth_date = None
    registration = userinfo.get("gp_registration_details")
    ods_code = _text(registration.get("gp_ods_code")) if isinstance(registration, dict) else None
    credentials: GPCredentials | None = None
    raw = userinfo.get("gp_integration_credentials")
    if isinstance(raw, dict):
        user_id, linkage_key = _text(raw.get("gp_user_id")), _text(raw.get("gp_linkage_key"))
        credentials_ods = _text(raw.get("gp_ods_code")) or ods_code
        if user_id and linkage_key and credentials_ods:
            credentials = GPCredentials(user_id, linkage_key, credentials_ods.upper())
            ods_code = ods_code or credentials_ods
    return NHSLoginIdentity(
        sub=sub,
        identity_level=identity_level_of(vot),
        vot=vot,
        # Anything not shaped like an NHS number or ODS code is treated as absent.
        nhs_number=_matching(_text(userinfo.get("nhs_number")), _NHS_NUMBER),
        family_name=_text(userinfo.get("family_name")),
        birth_date=birth_date,
        ods_code=_matching(ods_code.upper() if ods_code else None, _ODS_CODE),
        gp_credentials=credentials,
    )
