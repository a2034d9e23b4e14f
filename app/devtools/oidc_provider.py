"""What the development OpenID provider stand-ins share, for development only.

NHS login (patients, `app.devtools.nhs_login`) and NHS CIS2 (staff, `app.devtools.cis2`)
are both OpenID Connect providers that a relying party reaches the same way: the
authorization code flow with PKCE S256, and a `private_key_jwt` client assertion at the
token endpoint (iss = sub = client_id, aud = the token endpoint, a short exp and a fresh
jti). This module holds that flow once: discovery, JWKS, the authorize page, the token
endpoint, the single-use code store and the ID token's signing. Each stand-in says what is
its own: the assurance it is asked for (`vtr` or `acr_values`), its personas and the
claims it releases.
"""

from __future__ import annotations

import hashlib
import html
import secrets
from abc import ABC, abstractmethod
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from app.clock import Clock
from app.devtools.standin_store import StandInStore
from app.headers import standin_csp

CODE_LIFETIME = timedelta(seconds=60)  # codes are single-use and short-lived
TOKEN_LIFETIME = timedelta(hours=1)
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)  # NHS login: client assertion exp ≤ 5 minutes
CLOCK_SKEW = timedelta(seconds=30)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM_TYPE = "application/x-www-form-urlencoded"


class AuthorizeRejected(Exception):
    """A request the provider would refuse without redirecting back (shown as a page)."""


class TokenError(Exception):
    """A token request refused, with the OAuth error code the provider answers."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """An authorize request as checked: what the page carries to the decision."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    # The assurance asked for (NHS login's vectors of trust, CIS2's acr values) and the
    # parameter that carries it, as the page sends it back.
    levels: tuple[str, ...]
    levels_param: tuple[str, str]
    code_challenge: str | None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    def as_form(self) -> dict[str, str]:
        name, value = self.levels_param
        fields = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            name: value,
        }
        if self.code_challenge:
            fields["code_challenge"] = self.code_challenge
            fields["code_challenge_method"] = "S256"  # the only method accepted
        return fields


@dataclass(frozen=True, slots=True)
class Release:
    """What a token request releases for a grant: userinfo, and the provider's own ID
    token claims and token response fields."""

    userinfo: dict[str, Any]
    id_token_claims: dict[str, Any]
    token_response: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class OIDCStandIn(ABC):
    """An OpenID provider stand-in: one relying party, its key and redirect URIs."""

    TITLE: ClassVar[str]  # the authorize page's heading
    NOTE: ClassVar[str]  # the authorize page's first paragraph, HTML
    REDIRECT_URIS_SETTING: ClassVar[str]  # where a developer lists the app's redirect URIs
    STATE_AND_NONCE_REQUIRED: ClassVar[str] = "state and nonce are both required."
    CHECKS_RESPONSE_MODE: ClassVar[bool] = False
    NAMES_ISSUER_IN_REDIRECT: ClassVar[bool] = False  # RFC 9207's `iss`

    issuer: str
    client_id: str
    client_key: RSAKey  # the public half of the relying party's private key
    redirect_uris: frozenset[str]
    clock: Clock
    # Codes, access tokens, seen assertions and signing keys, shared with the other
    # workers: the next request of a sign-in may reach any of them.
    store: StandInStore
    signing_alg: str = "RS512"
    signing_key: RSAKey = field(init=False)

    def __post_init__(self) -> None:
        # A new key each start, as the providers rotate; the RP must fetch it via JWKS.
        self.signing_key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": self.signing_alg}, auto_kid=True
        )
        self._publish_signing_key(self.clock.now())

    # --- what each provider says for itself -------------------------------------------

    @abstractmethod
    def discovery_extra(self) -> dict[str, Any]:
        """The provider's own discovery fields (scopes, claims, assurance levels)."""

    @abstractmethod
    def parse_levels(self, params: dict[str, str]) -> tuple[str, ...]:
        """The assurance asked for; raises `AuthorizeRejected` when it is not supported."""

    @abstractmethod
    def levels_param(self, levels: tuple[str, ...]) -> tuple[str, str]:
        """The authorize parameter carrying `levels`, as the page sends it back."""

    @abstractmethod
    def grant_for(self, request: AuthorizeRequest, choice: str) -> dict[str, Any]:
        """What a code for the persona chosen grants (JSON, kept in the shared store);
        raises `AuthorizeRejected` when no such persona may sign in."""

    @abstractmethod
    def release(self, granted: dict[str, Any]) -> Release:
        """What the token request releases for a grant."""

    @abstractmethod
    def persona_buttons(self, request: AuthorizeRequest) -> str:
        """The authorize page's persona buttons, HTML."""

    # --- discovery and keys -----------------------------------------------------------

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.signing_alg],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": [self.signing_alg],
            "code_challenge_methods_supported": ["S256"],
            **self.discovery_extra(),
        }

    def jwks(self) -> dict[str, Any]:
        """Every worker's signing key, as the providers list each key in use: an ID token
        from any worker verifies against the keys fetched from any other."""
        own = self.signing_key.as_dict(private=False)
        others = [k for k in self.store.current("signing_key", self.clock.now())
                  if k["kid"] != own["kid"]]  # fmt: skip
        return {"keys": [own, *others]}

    def _publish_signing_key(self, now: datetime) -> None:
        # Listed as long as an ID token it signed may still be checked.
        public = self.signing_key.as_dict(private=False)
        self.store.put(
            "signing_key", str(public["kid"]), public, now=now, expires_at=now + TOKEN_LIFETIME
        )

    # --- authorize --------------------------------------------------------------------

    def parse_authorize(self, params: dict[str, str]) -> AuthorizeRequest:
        if params.get("client_id") != self.client_id:
            raise AuthorizeRejected("Unknown client_id.")
        if params.get("redirect_uri") not in self.redirect_uris:
            raise AuthorizeRejected("redirect_uri is not registered for this client.")
        if params.get("response_type") != "code":
            raise AuthorizeRejected("response_type must be code (authorization code flow only).")
        if self.CHECKS_RESPONSE_MODE and params.get("response_mode", "query") != "query":
            raise AuthorizeRejected("response_mode must be query.")
        scope = params.get("scope", "")
        if "openid" not in scope.split():
            raise AuthorizeRejected("scope must include openid.")
        state, nonce = params.get("state", ""), params.get("nonce", "")
        if not state or not nonce:
            raise AuthorizeRejected(self.STATE_AND_NONCE_REQUIRED)
        levels = self.parse_levels(params)
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if challenge is not None and method != "S256":
            raise AuthorizeRejected("code_challenge_method must be S256.")
        return AuthorizeRequest(
            client_id=self.client_id,
            redirect_uri=params["redirect_uri"],
            scope=scope,
            state=state,
            nonce=nonce,
            levels=levels,
            levels_param=self.levels_param(levels),
            code_challenge=challenge,
        )

    def sign_in(self, request: AuthorizeRequest, choice: str) -> dict[str, str]:
        """The redirect's parameters for signing in as the persona chosen: a single-use
        code. Raises `AuthorizeRejected` when that persona may not sign in."""
        granted = self.grant_for(request, choice)
        now = self.clock.now()
        code = secrets.token_urlsafe(32)
        entry = {
            "redirect_uri": request.redirect_uri,
            "nonce": request.nonce,
            "code_challenge": request.code_challenge,
            "granted": granted,
        }
        self.store.add("code", code, entry, now=now, expires_at=now + CODE_LIFETIME)
        params = {"code": code, "state": request.state}
        if self.NAMES_ISSUER_IN_REDIRECT:
            params["iss"] = self.issuer
        return params

    # --- token ------------------------------------------------------------------------

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The token response; raises `TokenError` with the OAuth error code."""
        now = self.clock.now()
        self._check_client_assertion(form, now)
        if form.get("grant_type") != "authorization_code":
            raise TokenError("unsupported_grant_type")
        # Single use: the code is gone from the first presentation, success or not.
        entry = self.store.take("code", form.get("code", ""), now)
        if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
            raise TokenError("invalid_grant")
        verifier, challenge = form.get("code_verifier"), entry["code_challenge"]
        if challenge is not None:
            if not verifier or not secrets.compare_digest(_s256(verifier), challenge):
                raise TokenError("invalid_grant")
        elif verifier:
            raise TokenError("invalid_request")
        released = self.release(entry["granted"])
        access_token = secrets.token_urlsafe(32)
        self.store.add("access_token", access_token, released.userinfo, now=now,
                       expires_at=now + TOKEN_LIFETIME)  # fmt: skip
        claims = {
            "iss": self.issuer,
            "sub": released.userinfo["sub"],
            "aud": self.client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "auth_time": int(now.timestamp()),
            "nonce": entry["nonce"],
            "jti": secrets.token_urlsafe(16),
            **released.id_token_claims,
        }
        self._publish_signing_key(now)
        header = {"alg": self.signing_alg, "kid": self.signing_key.kid}
        id_token = jwt.encode(header, claims, self.signing_key, algorithms=[self.signing_alg])
        return {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            **released.token_response,
        }

    def _check_client_assertion(self, form: dict[str, str], now: datetime) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError("invalid_client")
        assertion = form.get("client_assertion", "")
        try:
            header = jws.extract_compact(assertion.encode()).headers()
            if header.get("alg") != self.signing_alg:
                raise TokenError("invalid_client")
            token = jwt.decode(assertion, self.client_key, algorithms=[self.signing_alg])
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=int(CLOCK_SKEW.total_seconds()),
                iss={"essential": True, "value": self.client_id},
                sub={"essential": True, "value": self.client_id},
                aud={"essential": True, "value": self.token_endpoint},
                exp={"essential": True},
                jti={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError):
            raise TokenError("invalid_client") from None
        claims = token.claims
        if form.get("client_id", self.client_id) != self.client_id:
            raise TokenError("invalid_client")
        # A short-lived assertion (exp at most 5 minutes ahead), used once.
        if claims["exp"] - now.timestamp() > (ASSERTION_MAX_LIFETIME + CLOCK_SKEW).total_seconds():
            raise TokenError("invalid_client")
        # Seen by any worker is seen: recorded and checked in one step.
        expires_at = datetime.fromtimestamp(claims["exp"], tz=now.tzinfo) + CLOCK_SKEW
        if not self.store.add("jti", str(claims["jti"]), True, now=now, expires_at=expires_at):
            raise TokenError("invalid_client")

    # --- userinfo ---------------------------------------------------------------------

    def userinfo(self, access_token: str) -> dict[str, Any] | None:
        claims: dict[str, Any] | None = self.store.get(
            "access_token", access_token, self.clock.now()
        )
        return claims

    # --- the authorize page -----------------------------------------------------------

    def picker(self, request: AuthorizeRequest) -> str:
        """The page's form: the request carried in hidden fields, a button a persona."""
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in request.as_form().items()
        )
        return (
            f'<p class="note">{self.NOTE}</p>'
            f'<form method="post" action="{html.escape(self.issuer)}/authorize">{hidden}'
            + self.persona_buttons(request)
            + '<button type="submit" name="cancel" value="1" class="cancel">'
            "Cancel (return access_denied)</button></form>"
        )

    def unusable_redirect_uri(self) -> str:
        return (
            "redirect_uri is registered but names no host a browser can be sent to: "
            f"check {self.REDIRECT_URIS_SETTING}."
        )


def _s256(verifier: str) -> str:
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# --- HTTP -----------------------------------------------------------------------------------


def build_router(provider: OIDCStandIn, prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, include_in_schema=False)

    @router.get("/.well-known/openid-configuration")
    async def discovery() -> JSONResponse:
        return JSONResponse(provider.discovery())

    @router.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(provider.jwks())

    @router.get("/authorize")
    async def authorize_page(request: Request) -> Response:
        try:
            parsed = provider.parse_authorize(dict(request.query_params))
        except AuthorizeRejected as rejected:
            return refused(request, str(rejected))
        try:
            # Picking a persona redirects to the app's redirect URI: the one place besides
            # this site the page's form may lead to (the security headers keep this policy).
            policy = standin_csp(parsed.redirect_uri)
        except ValueError:
            return refused(request, provider.unusable_redirect_uri())
        page = _page(provider.TITLE, provider.picker(parsed), 200)
        page.headers["Content-Security-Policy"] = policy
        return page

    @router.post("/authorize")
    async def authorize_decision(request: Request) -> Response:
        form = await _form(request)
        try:
            parsed = provider.parse_authorize(form)
        except AuthorizeRejected as rejected:
            return refused(request, str(rejected))
        if form.get("cancel") is not None:
            return _back(parsed, {"error": "access_denied", "state": parsed.state})
        try:
            params = provider.sign_in(parsed, form.get("persona", ""))
        except AuthorizeRejected as rejected:
            return refused(request, str(rejected))
        return _back(parsed, params)

    @router.post("/token")
    async def token(request: Request) -> JSONResponse:
        try:
            body = provider.exchange(await _form(request))
        except TokenError as error:
            status = 401 if error.error == "invalid_client" else 400
            return JSONResponse({"error": error.error}, status_code=status)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.get("/userinfo")
    async def userinfo(request: Request) -> JSONResponse:
        scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
        claims = provider.userinfo(access_token) if scheme.lower() == "bearer" else None
        if claims is None:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse(claims)

    return router


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what the providers' endpoints take)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        return {}
    body = await request.body()
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def refused(request: Request, message: str) -> Response:
    """A request refused with no redirect: a page, as the providers show, or the message
    alone for a script that asks for plain text (the app example's `--persona`)."""
    accepted = request.headers.get("accept", "").split(",")[0].split(";")[0].strip()
    if accepted == "text/plain":
        return PlainTextResponse(message, status_code=400, headers={"Cache-Control": "no-store"})
    return _page("Request refused", f"<p>{html.escape(message)}</p>", 400)


def _back(request: AuthorizeRequest, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if urlsplit(request.redirect_uri).query else "?"
    return RedirectResponse(request.redirect_uri + separator + urlencode(params), status_code=302)


_STYLE = (
    "body{font-family:Arial,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;"
    "color:#212b32}h1{color:#005eb8}button{display:block;width:100%;text-align:left;"
    "margin:.4rem 0;padding:.6rem;font-size:1rem;border:1px solid #005eb8;background:#fff;"
    "cursor:pointer}button:disabled{color:#768692;border-color:#d8dde0;cursor:not-allowed}"
    "button.cancel{border-color:#d5281b;color:#d5281b}.note{color:#4c6272}"
)


def _page(title: str, body: str, status: int) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        document,
        status_code=status,
        # CSP (DEV_CSP, or the page's own standin_csp) and framing come from the
        # security headers on every response.
        headers={"Cache-Control": "no-store"},
    )
