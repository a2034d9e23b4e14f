"""Access tokens for GP Connect's patient-facing APIs: the patient's own, never ours.

The patient-facing prescriptions API is user-restricted: the end user is the patient,
signed in with NHS login at P9 ("NHS login separate authentication and authorisation"
pattern of the NHS API platform). The app exchanges the patient's NHS login ID token
for an access token at the platform's OAuth 2.0 token endpoint (RFC 8693 token
exchange, client authenticated by a signed JWT), then calls the API with
`Authorization: Bearer <access token>`.

`PatientTokenExchange` is the one interface the adapter sees. Two implementations:
- `SandboxPatientTokens`: a fixed token, for the platform's sandbox (open access) and dev;
- `NHSLoginTokenExchange`: the real exchange over httpx; where the ID token comes from is
  `NHSLoginIdTokens`, which the sign-in flow provides (stored encrypted at rest, and
  refreshed with NHS login's refresh token when it expires within the session).

Tokens and ID tokens are never logged.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.clock import Clock
from app.gp.errors import GPSystemUnavailable, SignInAgain

logger = logging.getLogger(__name__)

# RFC 8693 names (not secrets).
TOKEN_EXCHANGE_GRANT: Final = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
JWT_BEARER_ASSERTION: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The API platform's client assertions: RS512, `kid` in the header, at most 5 minutes.
ASSERTION_ALG: Final = "RS512"
ASSERTION_LIFETIME: Final = timedelta(minutes=5)
# Renew a little before the platform says the token ends, so no call carries a dying one.
EXPIRY_MARGIN: Final = timedelta(seconds=30)
TOKEN_CACHE_SIZE: Final = 1024

SIGN_IN_AGAIN: Final = (
    "For your security, please sign in again with NHS login to use your prescriptions."
)


class PatientTokenExchange(Protocol):
    """An access token for the patient-facing APIs, on behalf of one signed-in patient."""

    async def token_for(self, nhs_number: str, *, renew: bool = False) -> str:
        """`renew` asks for a fresh token (the API refused the last one).

        Raises `SignInAgain` when the patient must sign in again, `GPSystemUnavailable`
        when the token service is down.
        """
        ...


class NHSLoginIdTokens(Protocol):
    """The patient's NHS login ID token from their current sign-in, if it is still held."""

    async def id_token_for(self, nhs_number: str, *, refused: str | None = None) -> str | None:
        """A valid ID token, or None when the patient must sign in again. `refused` is
        one the token endpoint just refused as expired: another one is wanted."""
        ...


class _IdTokenRefused(Exception):
    """The token endpoint refused the patient's ID token (`invalid_grant`)."""


class SandboxPatientTokens:
    """The platform's sandbox is open access: any bearer token will do (dev and tests)."""

    def __init__(self, token: str = "sandbox") -> None:  # noqa: S107 (not a secret)
        self._token = token

    async def token_for(self, nhs_number: str, *, renew: bool = False) -> str:
        return self._token


@dataclass(frozen=True, slots=True)
class _Issued:
    token: str
    expires_at: datetime


class NHSLoginTokenExchange:
    """RFC 8693 token exchange of the patient's NHS login ID token at the platform's
    token endpoint. Issued tokens are kept in memory until shortly before they end
    (bounded; another instance without them only exchanges again)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        private_key: RSAKey,
        key_id: str,
        id_tokens: NHSLoginIdTokens,
        clock: Clock,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._private_key = private_key
        self._key_id = key_id
        self._id_tokens = id_tokens
        self._clock = clock
        self._timeout = timeout or httpx.Timeout(5.0, connect=2.0)
        self._issued: OrderedDict[str, _Issued] = OrderedDict()

    def client_assertion(self) -> str:
        """The signed JWT that authenticates this app: iss = sub = our API key."""
        now = self._clock.now()
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "jti": str(uuid.uuid4()),
            "iat": int(now.timestamp()),
            "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        }
        header = {"alg": ASSERTION_ALG, "typ": "JWT", "kid": self._key_id}
        return jwt.encode(header, claims, self._private_key, algorithms=[ASSERTION_ALG])

    async def token_for(self, nhs_number: str, *, renew: bool = False) -> str:
        now = self._clock.now()
        issued = self._issued.get(nhs_number)
        if issued is not None and not renew and issued.expires_at - EXPIRY_MARGIN > now:
            self._issued.move_to_end(nhs_number)
            return issued.token
        self._issued.pop(nhs_number, None)
        id_token = await self._id_tokens.id_token_for(nhs_number)
        if id_token is None:
            raise SignInAgain(SIGN_IN_AGAIN, supplier_code="NO_NHS_LOGIN_ID_TOKEN")
        try:
            issued = await self._exchange(id_token)
        except _IdTokenRefused:
            # Expired by the platform's clock if not by ours: one fresh ID token, once.
            fresh = await self._id_tokens.id_token_for(nhs_number, refused=id_token)
            if fresh is None or fresh == id_token:
                raise SignInAgain(
                    SIGN_IN_AGAIN, supplier_code="TOKEN_EXCHANGE_INVALID_GRANT"
                ) from None
            try:
                issued = await self._exchange(fresh)
            except _IdTokenRefused:
                raise SignInAgain(
                    SIGN_IN_AGAIN, supplier_code="TOKEN_EXCHANGE_INVALID_GRANT"
                ) from None
        self._issued[nhs_number] = issued
        while len(self._issued) > TOKEN_CACHE_SIZE:
            self._issued.popitem(last=False)
        return issued.token

    async def _exchange(self, id_token: str) -> _Issued:
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token_type": ID_TOKEN_TYPE,
            "subject_token": id_token,
            "client_assertion_type": JWT_BEARER_ASSERTION,
            "client_assertion": self.client_assertion(),
        }
        try:
            response = await self._http.post(
                self._token_url,
                data=form,
                headers={"Accept": "application/json", "X-Request-ID": str(uuid.uuid4())},
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            logger.warning("Patient token exchange timed out")
            raise GPSystemUnavailable(retry_after=10, supplier_code="TOKEN_TIMEOUT") from None
        except httpx.RequestError as exc:
            logger.warning("Patient token exchange failed", extra={"error": type(exc).__name__})
            raise GPSystemUnavailable(supplier_code="TOKEN_TRANSPORT") from None
        body = _json_object(response)
        if response.status_code in (400, 401):
            # RFC 6749 §5.2: `invalid_grant` is the patient's ID token (expired, or not P9);
            # anything else is our client's configuration, which the patient cannot fix.
            error = str(body.get("error") or "")
            logger.info("Patient token exchange refused", extra={"oauth_error": error})
            if error == "invalid_grant":
                raise _IdTokenRefused()
            raise GPSystemUnavailable(supplier_code=f"TOKEN_EXCHANGE_{error or 'REFUSED'}")
        if not response.is_success:
            logger.warning("Patient token service failed", extra={"status": response.status_code})
            raise GPSystemUnavailable(supplier_code=f"TOKEN_HTTP_{response.status_code}")
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise GPSystemUnavailable(supplier_code="TOKEN_MALFORMED")
        try:
            lifetime = timedelta(seconds=int(expires_in)) if expires_in is not None else None
        except (TypeError, ValueError):
            lifetime = None
        # Without a lifetime the token is used for this call only.
        expires_at = self._clock.now() + (lifetime or timedelta(0))
        return _Issued(token, expires_at)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
