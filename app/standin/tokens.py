"""The platform's token exchange and the access tokens it issues (in memory).

`POST /oauth2/token` takes what `NHSLoginTokenExchange` sends (RFC 8693): the client's
signed assertion (RS512, iss = sub, aud = this endpoint, exp within 5 minutes, a fresh
jti; its signature checked when the client's key is configured) and, as the subject
token, the patient's NHS login ID token. The ID token is checked against the NHS login
issuer the service is configured with: its discovery document and JWKS, signature
RS512, `iss`, `aud` (the service's NHS login client id), `exp`, and identity level P9
(the patient-facing APIs are for P9 users only). The access token issued is bound to
the token's NHS number. RFC 6749 §5.2 errors: `invalid_grant` for the ID token,
`invalid_client` for the assertion.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from app.clock import Clock
from app.standin.patients import PatientDirectory

logger = logging.getLogger(__name__)

TOKEN_EXCHANGE_GRANT: Final = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_BEARER_ASSERTION: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SIGNING_ALG: Final = "RS512"
ASSERTION_MAX_LIFETIME: Final = timedelta(minutes=5)
CLOCK_SKEW: Final = timedelta(seconds=30)
MAX_TOKENS: Final = 10_000
MAX_SEEN_ASSERTIONS: Final = 10_000
KEYS_REFRESH_SECONDS: Final = 10.0  # an unknown `kid` fetches the JWKS at most this often


class TokenError(Exception):
    """An RFC 6749 §5.2 error code; `status` 400, or 401 for `invalid_client`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = 401 if error == "invalid_client" else 400


@dataclass(frozen=True, slots=True)
class AccessToken:
    nhs_number: str
    expires_at: datetime


class IssuerKeys:
    """The NHS login issuer's signing keys, from its discovery document and JWKS."""

    def __init__(self, http: httpx.AsyncClient, issuer: str) -> None:
        self._http = http
        self.issuer = issuer.rstrip("/")
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    async def key_set(self, kid: str | None) -> KeySet:
        known = self._keys is not None and any(key.kid == kid for key in self._keys.keys)
        stale = time.monotonic() - self._fetched_at > KEYS_REFRESH_SECONDS
        if self._keys is None or (not known and stale):
            self._keys = await self._fetch()
            self._fetched_at = time.monotonic()
        return self._keys

    async def _fetch(self) -> KeySet:
        try:
            discovery = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            jwks = await self._http.get(str(discovery.json()["jwks_uri"]))
            jwks.raise_for_status()
            return KeySet.import_key_set(jwks.json())
        except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
            logger.warning("NHS login keys unavailable", extra={"error": type(exc).__name__})
            raise TokenError("temporarily_unavailable", "NHS login keys unavailable") from None


class TokenService:
    """Exchanges ID tokens for access tokens, and says whose an access token is."""

    def __init__(
        self,
        *,
        keys: IssuerKeys,
        audience: str,
        directory: PatientDirectory,
        clock: Clock,
        lifetime: timedelta,
        client_key: RSAKey | None,
    ) -> None:
        self._keys = keys
        self._audience = audience
        self._directory = directory
        self._clock = clock
        self._lifetime = lifetime
        self._client_key = client_key
        self._issued: OrderedDict[str, AccessToken] = OrderedDict()
        self._seen_assertions: OrderedDict[str, datetime] = OrderedDict()

    async def exchange(self, form: dict[str, str], token_url: str) -> dict[str, Any]:
        """The token response; raises `TokenError`."""
        if form.get("grant_type") != TOKEN_EXCHANGE_GRANT:
            raise TokenError("unsupported_grant_type", "grant_type must be token-exchange")
        if form.get("subject_token_type") != ID_TOKEN_TYPE:
            raise TokenError("invalid_request", "subject_token_type must be id_token")
        self._check_assertion(form, token_url)
        nhs_number = await self._check_id_token(form.get("subject_token", ""))
        token = secrets.token_urlsafe(32)
        self._issued[token] = AccessToken(nhs_number, self._clock.now() + self._lifetime)
        while len(self._issued) > MAX_TOKENS:
            self._issued.popitem(last=False)
        return {
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": int(self._lifetime.total_seconds()),
        }

    def holder(self, token: str) -> str | None:
        """The NHS number an unexpired access token was issued for."""
        issued = self._issued.get(token)
        if issued is None or issued.expires_at <= self._clock.now():
            return None
        return issued.nhs_number

    def _check_assertion(self, form: dict[str, str], token_url: str) -> None:
        if form.get("client_assertion_type") != JWT_BEARER_ASSERTION:
            raise TokenError("invalid_client", "client_assertion_type must be jwt-bearer")
        claims, now = self._assertion_claims(form.get("client_assertion", "")), self._clock.now()
        iss, jti, exp = claims.get("iss"), claims.get("jti"), claims.get("exp")
        if not iss or claims.get("sub") != iss:
            raise TokenError("invalid_client", "client_assertion iss and sub must be the client")
        if claims.get("aud") != token_url:
            raise TokenError("invalid_client", "client_assertion aud must be the token endpoint")
        if not isinstance(exp, int) or not (
            now.timestamp() < exp <= (now + ASSERTION_MAX_LIFETIME + CLOCK_SKEW).timestamp()
        ):
            raise TokenError("invalid_client", "client_assertion exp must be within 5 minutes")
        if not isinstance(jti, str) or not jti or jti in self._seen_assertions:
            raise TokenError("invalid_client", "client_assertion jti must be new")
        self._seen_assertions[jti] = now
        while len(self._seen_assertions) > MAX_SEEN_ASSERTIONS:
            self._seen_assertions.popitem(last=False)

    def _assertion_claims(self, assertion: str) -> dict[str, Any]:
        try:
            if self._client_key is not None:
                return jwt.decode(assertion, self._client_key, algorithms=[SIGNING_ALG]).claims
            # Without the client's key only its form can be checked.
            compact = jws.extract_compact(assertion.encode())
            claims = json.loads(compact.payload)
            if compact.headers().get("alg") != SIGNING_ALG or not isinstance(claims, dict):
                raise ValueError("not an RS512 JWT")
            return claims
        except (JoseError, ValueError):
            raise TokenError("invalid_client", "client_assertion is not an RS512 JWT") from None

    async def _check_id_token(self, id_token: str) -> str:
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError):
            raise TokenError("invalid_grant", "subject_token is not a JWT") from None
        if header.get("alg") != SIGNING_ALG:
            raise TokenError("invalid_grant", "subject_token must be signed RS512")
        key_set = await self._keys.key_set(header.get("kid"))
        try:
            token = jwt.decode(id_token, key_set, algorithms=[SIGNING_ALG])
            jwt.JWTClaimsRegistry(
                now=int(self._clock.now().timestamp()),
                leeway=int(CLOCK_SKEW.total_seconds()),
                iss={"essential": True, "value": self._keys.issuer},
                aud={"essential": True, "value": self._audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            refused = f"subject_token refused: {type(exc).__name__}"
            raise TokenError("invalid_grant", refused) from None
        claims = token.claims
        if claims.get("identity_proofing_level") != "P9":
            raise TokenError("invalid_grant", "the patient-facing APIs need identity level P9")
        nhs_number = claims.get("nhs_number") or self._directory.nhs_number_of_subject(
            str(claims["sub"])
        )
        if not isinstance(nhs_number, str) or not nhs_number:
            raise TokenError("invalid_grant", "subject_token names no NHS number")
        return nhs_number
