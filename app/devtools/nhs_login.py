"""A strict stand-in for NHS login, for development only.

It checks what NHS login checks (client_id, redirect_uri, response_type=code,
`openid` scope, state, nonce, vtr, PKCE S256, an RS512 client assertion with
iss = sub = client_id, aud = token endpoint, exp within 5 minutes and a fresh
jti) and answers as NHS login does (RS512 ID token with `vot`, userinfo with
the persona's claims). Signing in means picking a sandbox persona.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
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

from app.adapters.sandbox.personas import Persona
from app.clock import Clock, today
from app.devtools.standin_store import StandInStore
from app.headers import standin_csp

STANDIN_PATH = "/dev/nhs-login"
SIGNING_ALG = "RS512"
CODE_LIFETIME = timedelta(seconds=60)  # codes are single-use and short-lived
TOKEN_LIFETIME = timedelta(hours=1)
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)  # NHS login: client assertion exp ≤ 5 minutes
CLOCK_SKEW = timedelta(seconds=30)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEVEL_RANK = {"P0": 0, "P5": 5, "P9": 9}
# NHS login's own names for how far a user's identity was checked.
LEVEL_WORDS = {"P0": "low", "P5": "medium", "P9": "high"}
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_SHOWN_CHOICE = 60  # characters of an unknown persona quoted back
UNUSABLE_REDIRECT_URI = (
    "redirect_uri is registered but names no host a browser can be sent to: "
    "check NHS_LOGIN_APP_REDIRECT_URIS."
)

PersonaSource = Callable[[date], list[Persona]]


class AuthorizeRejected(Exception):
    """A request NHS login would refuse without redirecting back (shown as a page)."""


@dataclass(slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    vot: str
    scopes: frozenset[str]
    claims: dict[str, Any]
    code_challenge: str | None

    def as_entry(self) -> dict[str, Any]:
        """The grant as JSON, for the store every worker shares."""
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "nonce": self.nonce,
            "vot": self.vot,
            "scopes": sorted(self.scopes),
            "claims": self.claims,
            "code_challenge": self.code_challenge,
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> _Grant:
        return cls(**{**entry, "scopes": frozenset(entry["scopes"])})


@dataclass(slots=True)
class _AuthorizeRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    vtr: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None

    def as_form(self) -> dict[str, str]:
        fields = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "vtr": json.dumps(list(self.vtr), separators=(",", ":")),
        }
        if self.code_challenge:
            fields["code_challenge"] = self.code_challenge
            fields["code_challenge_method"] = self.code_challenge_method or ""
        return fields


@dataclass(slots=True)
class StandInProvider:
    issuer: str
    client_id: str
    client_key: RSAKey  # the public half of NHS_LOGIN_PRIVATE_KEY_FILE
    redirect_uris: frozenset[str]
    clock: Clock
    personas: PersonaSource
    # Codes, access tokens, seen assertions and signing keys, shared with the other
    # workers: the next request of a sign-in may reach any of them.
    store: StandInStore
    signing_key: RSAKey = field(init=False)

    def __post_init__(self) -> None:
        # A new key each start, as NHS login rotates; the RP must fetch it via JWKS.
        self.signing_key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": SIGNING_ALG}, auto_kid=True
        )
        self._publish_signing_key(self.clock.now())

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
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [SIGNING_ALG],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": [SIGNING_ALG],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [
                "openid", "profile", "email", "phone", "profile_extended",
                "gp_registration_details", "gp_integration_credentials",
            ],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nonce", "vot", "vtm", "nhs_number",
                "birthdate", "family_name", "given_name", "email", "phone_number",
                "identity_proofing_level", "gp_registration_details",
                "gp_integration_credentials",
            ],
            "vtr_values_supported": ["P0.Cp.Cd", "P0.Cp.Ck", "P0.Cm", "P5.Cp.Cd", "P5.Cp.Ck",
                                     "P5.Cm", "P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"],
        }  # fmt: skip

    def jwks(self) -> dict[str, Any]:
        """Every worker's signing key, as NHS login lists each key in use: an ID token
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

    def parse_authorize(self, params: dict[str, str]) -> _AuthorizeRequest:
        if params.get("client_id") != self.client_id:
            raise AuthorizeRejected("Unknown client_id.")
        if params.get("redirect_uri") not in self.redirect_uris:
            raise AuthorizeRejected("redirect_uri is not registered for this client.")
        if params.get("response_type") != "code":
            raise AuthorizeRejected("response_type must be code (authorization code flow only).")
        if params.get("response_mode", "query") != "query":
            raise AuthorizeRejected("response_mode must be query.")
        scope = params.get("scope", "")
        if "openid" not in scope.split():
            raise AuthorizeRejected("scope must include openid.")
        state, nonce = params.get("state", ""), params.get("nonce", "")
        if not state or not nonce:
            raise AuthorizeRejected("state and nonce are both required by NHS login.")
        try:
            vtr = json.loads(params.get("vtr", ""))
        except ValueError:
            raise AuthorizeRejected("vtr must be a JSON array of vectors of trust.") from None
        if (
            not isinstance(vtr, list)
            or not vtr
            or not all(isinstance(v, str) and v in self.discovery()["vtr_values_supported"]
                       for v in vtr)
        ):  # fmt: skip
            raise AuthorizeRejected("vtr must be a JSON array of supported vectors of trust.")
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
        if challenge is not None and method != "S256":
            raise AuthorizeRejected("code_challenge_method must be S256.")
        return _AuthorizeRequest(
            client_id=self.client_id,
            redirect_uri=params["redirect_uri"],
            scope=scope,
            state=state,
            nonce=nonce,
            vtr=tuple(vtr),
            code_challenge=challenge,
            code_challenge_method=method,
        )

    def vot_for(self, persona: Persona, vtr: tuple[str, ...]) -> str | None:
        """The strongest requested vector this persona meets, as NHS login would assert."""
        level = LEVEL_RANK[persona.identity_proofing_level]
        usable = [v for v in vtr if LEVEL_RANK[v.split(".", 1)[0]] <= level]
        if not usable:
            return None
        return max(usable, key=lambda v: LEVEL_RANK[v.split(".", 1)[0]])

    def issue_code(self, request: _AuthorizeRequest, persona: Persona, vot: str) -> str:
        now = self.clock.now()
        code = secrets.token_urlsafe(32)
        grant = _Grant(
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            nonce=request.nonce,
            vot=vot,
            scopes=frozenset(request.scope.split()),
            claims=dict(persona.nhs_login_claims),
            code_challenge=request.code_challenge,
        )
        self.store.add("code", code, grant.as_entry(), now=now, expires_at=now + CODE_LIFETIME)
        return code

    # --- token ------------------------------------------------------------------------

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The token response; raises `TokenError` with NHS login's error code."""
        now = self.clock.now()
        self._check_client_assertion(form, now)
        if form.get("grant_type") != "authorization_code":
            raise TokenError("unsupported_grant_type")
        # Single use: the code is gone from the first presentation, success or not.
        entry = self.store.take("code", form.get("code", ""), now)
        if entry is None:
            raise TokenError("invalid_grant")
        grant = _Grant.from_entry(entry)
        if grant.redirect_uri != form.get("redirect_uri"):
            raise TokenError("invalid_grant")
        verifier = form.get("code_verifier")
        if grant.code_challenge is not None:
            if not verifier or not secrets.compare_digest(_s256(verifier), grant.code_challenge):
                raise TokenError("invalid_grant")
        elif verifier:
            raise TokenError("invalid_request")
        claims = _scoped_claims(grant)
        access_token = secrets.token_urlsafe(32)
        self.store.add("access_token", access_token, claims, now=now,
                       expires_at=now + TOKEN_LIFETIME)  # fmt: skip
        id_token_claims = {
            "iss": self.issuer,
            "sub": claims["sub"],
            "aud": grant.client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "auth_time": int(now.timestamp()),
            "nonce": grant.nonce,
            "vot": grant.vot,
            "vtm": f"{self.issuer}/trustmark",
            "jti": secrets.token_urlsafe(16),
            "identity_proofing_level": claims["identity_proofing_level"],
        }
        self._publish_signing_key(now)
        header = {"alg": SIGNING_ALG, "kid": self.signing_key.kid}
        id_token = jwt.encode(header, id_token_claims, self.signing_key, algorithms=[SIGNING_ALG])
        return {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "scope": " ".join(sorted(grant.scopes)),
        }

    def _check_client_assertion(self, form: dict[str, str], now: datetime) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError("invalid_client")
        assertion = form.get("client_assertion", "")
        try:
            header = jws.extract_compact(assertion.encode()).headers()
            if header.get("alg") != SIGNING_ALG:
                raise TokenError("invalid_client")
            token = jwt.decode(assertion, self.client_key, algorithms=[SIGNING_ALG])
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
        # NHS login: a short-lived assertion (exp at most 5 minutes ahead), used once.
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


class TokenError(Exception):
    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


def _s256(verifier: str) -> str:
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


_SCOPE_CLAIMS = {
    "profile": ("nhs_number", "birthdate", "family_name", "given_name", "identity_proofing_level"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "gp_registration_details": ("gp_registration_details",),
    "gp_integration_credentials": ("gp_integration_credentials",),
}


def _scoped_claims(grant: _Grant) -> dict[str, Any]:
    """Userinfo as NHS login gives it: only what the scopes allow, at the asserted level."""
    level = grant.vot.split(".", 1)[0]
    claims: dict[str, Any] = {"sub": grant.claims["sub"]}
    for scope in grant.scopes:
        for name in _SCOPE_CLAIMS.get(scope, ()):
            if name in grant.claims:
                claims[name] = grant.claims[name]
    claims["identity_proofing_level"] = level
    if level != "P9":
        # GP credentials are only released for P9 (identity verified) users.
        claims.pop("gp_integration_credentials", None)
    return claims


# --- HTTP -----------------------------------------------------------------------------------


def build_router(provider: StandInProvider) -> APIRouter:
    router = APIRouter(prefix=STANDIN_PATH, include_in_schema=False)

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
            return _refused(request, str(rejected))
        try:
            # Picking a persona redirects to the app's redirect URI: the one place besides
            # this site the page's form may lead to (the security headers keep this policy).
            policy = standin_csp(parsed.redirect_uri)
        except ValueError:
            return _refused(request, UNUSABLE_REDIRECT_URI)
        page = _page("Sign in (development)", _picker(provider, parsed), 200)
        page.headers["Content-Security-Policy"] = policy
        return page

    @router.post("/authorize")
    async def authorize_decision(request: Request) -> Response:
        form = await _form(request)
        choice, cancel = form.get("persona", ""), form.get("cancel")
        try:
            parsed = provider.parse_authorize(form)
        except AuthorizeRejected as rejected:
            return _refused(request, str(rejected))
        if cancel is not None:
            return _back(parsed, {"error": "access_denied", "state": parsed.state})
        chosen = chosen_persona(provider.personas(today(provider.clock)), choice)
        if chosen is None:
            return _refused(request, _no_such_persona(choice))
        vot = provider.vot_for(chosen, parsed.vtr)
        if vot is None:
            return _refused(request, _too_weak(chosen, parsed.vtr))
        code = provider.issue_code(parsed, chosen, vot)
        return _back(parsed, {"code": code, "state": parsed.state})

    @router.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        try:
            body = provider.exchange(form)
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
    """An application/x-www-form-urlencoded body (all NHS login's endpoints take)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        return {}
    body = await request.body()
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def chosen_persona(personas: list[Persona], choice: str) -> Persona | None:
    """The persona picked by its NHS login `sub` (what the page sends), or by a tag
    (the first persona listed with it), which is easier to type at a terminal."""
    by_sub = (p for p in personas if p.nhs_login_claims["sub"] == choice)
    by_tag = (p for p in personas if choice in p.tags)
    return next(by_sub, None) or next(by_tag, None)


def _no_such_persona(choice: str) -> str:
    shown = choice if len(choice) <= MAX_SHOWN_CHOICE else choice[:MAX_SHOWN_CHOICE] + "…"
    return (
        f"There is no sandbox persona {shown!r}: give a persona's sub or tag, as listed by "
        "`python -m app.adapters.sandbox personas`."
    )


def _lowest_level_asked(vtr: tuple[str, ...]) -> str:
    return min((v.split(".", 1)[0] for v in vtr), key=LEVEL_RANK.__getitem__)


def _in_words(level: str) -> str:
    """`P9 (high)`: the level's code, which developers look up, and the word for it."""
    return f"{level} ({LEVEL_WORDS[level]})"


def _too_weak(persona: Persona, vtr: tuple[str, ...]) -> str:
    needed = _lowest_level_asked(vtr)
    return (
        f"{persona.label} has proved their identity to {persona.identity_proofing_level}, "
        f"and this sign-in needs {needed} or above: pick another persona."
    )


def _persona_label(persona: Persona, vtr: tuple[str, ...], usable: bool) -> str:
    """What a persona's button says: how far their identity was checked and, when that is
    not enough, what this sign-in needs, in words rather than the `vtr` parameter's."""
    checked = f"{persona.label} — identity checked to {_in_words(persona.identity_proofing_level)}"
    if usable:
        return checked
    needed = _lowest_level_asked(vtr)
    more = "" if LEVEL_RANK[needed] == max(LEVEL_RANK.values()) else " or higher"
    return f"{checked} only: this sign-in needs {_in_words(needed)}{more}"


def _refused(request: Request, message: str) -> Response:
    """A request refused with no redirect: a page, as NHS login shows, or the message
    alone for a script that asks for plain text (the app example's `--persona`)."""
    accepted = request.headers.get("accept", "").split(",")[0].split(";")[0].strip()
    if accepted == "text/plain":
        return PlainTextResponse(message, status_code=400, headers={"Cache-Control": "no-store"})
    return _page("Request refused", f"<p>{html.escape(message)}</p>", 400)


def _back(request: _AuthorizeRequest, params: dict[str, str]) -> RedirectResponse:
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


def _picker(provider: StandInProvider, request: _AuthorizeRequest) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in request.as_form().items()
    )
    buttons = []
    for persona in provider.personas(today(provider.clock)):
        vot = provider.vot_for(persona, request.vtr)
        label = html.escape(_persona_label(persona, request.vtr, usable=vot is not None))
        disabled = "" if vot else " disabled"
        buttons.append(
            f'<button type="submit" name="persona" '
            f'value="{html.escape(persona.nhs_login_claims["sub"])}"{disabled}>'
            f"{label}</button>"
        )
    return (
        '<p class="note">This is the development stand-in for NHS login. '
        "Choose a sandbox persona to sign in as.</p>"
        f'<form method="post" action="{html.escape(provider.issuer)}/authorize">{hidden}'
        + "".join(buttons)
        + '<button type="submit" name="cancel" value="1" class="cancel">'
        "Cancel (return access_denied)</button></form>"
    )
