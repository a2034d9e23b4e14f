"""Who is signed in: the dependencies every feature uses.

`CurrentSession` for any signed-in user, `P9Session` where NHS login's P9
(identity verified) is needed: appointments, prescriptions and the record.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.audit.refusals import audit_refusal
from app.audit.types import AuditAction, AuditEvent
from app.auth import service
from app.auth.cookies import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.auth.oidc import vectors_from_json, vectors_to_json
from app.auth.problems import (
    CSRFTokenInvalid,
    IdentityVerificationRequired,
    NotSignedIn,
    OriginNotAllowed,
)
from app.auth.runtime import AuthRuntime
from app.auth.types import LEVEL_RANK, IdentityLevel, SignedIn, Via
from app.config import DEFAULT_VTR, Settings
from app.db import autocommit_engine
from app.ratelimit.guard import enforce
from app.ratelimit.service import Budget

__all__ = [
    "AuthDep",
    "CurrentSession",
    "P9Session",
    "SignedIn",
    "current_session",
    "require_identity_level",
]

# Shown in OpenAPI, so that Swagger UI can sign requests either way.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerSession",
    description="A session token from POST /v1/auth/session (native apps).",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description=(
        "The web session cookie (`HttpOnly`): your browser sends it once you have signed in "
        "at `/v1/auth/login?return_to=/docs`. Nothing to paste here; script cannot read it."
    ),
)
csrf_scheme = APIKeyHeader(
    name=CSRF_HEADER,
    auto_error=False,
    scheme_name="CSRFToken",
    description=(
        "With the session cookie, unsafe methods need `csrf_token` from GET /v1/auth/session "
        "(also in the `__Host-gp_csrf` cookie). Swagger UI at /docs sends it for you."
    ),
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_auth(request: Request) -> AuthRuntime:
    runtime: AuthRuntime = request.app.state.auth
    return runtime


AuthDep = Annotated[AuthRuntime, Depends(get_auth)]


def presented_token(
    bearer: HTTPAuthorizationCredentials | None, cookie: str | None
) -> tuple[str, Via] | None:
    """The token and how it came; a bearer token wins over a cookie."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials, "bearer"
    if cookie:
        return cookie, "cookie"
    return None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request, settings: Settings) -> None:
    """Where a cookie request comes from: this site or an allowed CORS origin.

    Browsers send `Sec-Fetch-Site` and `Origin` on unsafe methods; either naming
    another site is refused, beside the CSRF token. Clients that send neither (not a
    browser, or a very old one) rely on the CSRF token alone.
    """
    allowed = {origin_of(settings.public_base_url)} | {
        origin_of(origin) for origin in settings.cors_allow_origins
    }
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if origin is not None and origin.lower() not in allowed:
        raise OriginNotAllowed()
    if fetch_site is not None and fetch_site not in {"same-origin", "none"} and origin is None:
        raise OriginNotAllowed()  # from another site, and it will not say which


def check_csrf(
    request: Request, auth: AuthRuntime, signed_in: SignedIn, header: str | None
) -> None:
    """Origin check, then double submit: header equals the csrf cookie and the session's
    token (constant time)."""
    check_origin(request, auth.settings)
    expected = auth.csrf_token(signed_in.session_id)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not header or not hmac.compare_digest(header, expected):
        raise CSRFTokenInvalid()
    if not hmac.compare_digest(cookie, expected):
        raise CSRFTokenInvalid()


async def check_same_site(
    request: Request, auth: AuthRuntime, signed_in: SignedIn, header: str | None
) -> None:
    """`check_csrf`, with a refusal written to the audit trail (its code, nothing sent)."""
    try:
        check_csrf(request, auth, signed_in, header)
    except (CSRFTokenInvalid, OriginNotAllowed) as refused:
        event = AuditEvent(
            action=AuditAction.REQUEST_REFUSED, actor_id=signed_in.account_id, target=refused.code
        )
        await audit_refusal(request, event)
        raise


def presented_credentials(request: Request) -> tuple[tuple[str, Via] | None, str | None]:
    """The session token and how it came, and the CSRF header, read as the three
    security schemes above read them (`bearer_scheme`, `cookie_scheme`, `csrf_scheme`).

    Read here rather than as three dependencies: this runs on every signed-in request,
    and solving a dependency costs more than reading a header. The OpenAPI document
    still names the schemes (`session_security`, used by app.api_document).
    """
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)
        if scheme.lower() == "bearer" and credentials
        else None
    )
    return presented_token(bearer, request.cookies.get(SESSION_COOKIE)), request.headers.get(
        CSRF_HEADER
    )


async def current_session(request: Request) -> SignedIn:
    """The live session behind this request. Raises 401 `not_signed_in` / `session_expired`.

    Cookie sessions need the CSRF token on unsafe methods; bearer sessions do not
    (a browser never attaches a bearer token by itself).
    """
    presented, csrf = presented_credentials(request)
    if presented is None:
        raise NotSignedIn()
    token, via = presented
    auth: AuthRuntime = request.app.state.auth
    now = request.app.state.clock.now()
    reader = autocommit_engine(request)
    signed_in = await service.find_session(reader, token, via=via, now=now, policy=auth.policy)
    # The per-account ceiling on every signed-in request, before anything is written.
    await enforce(request, Budget.ACCOUNT, signed_in.account_id, account_id=signed_in.account_id)
    if via == "cookie" and request.method not in SAFE_METHODS:
        await check_same_site(request, auth, signed_in, csrf)
    return await service.touch_session(reader, signed_in, now=now, policy=auth.policy)


def session_security(method: str) -> list[dict[str, list[str]]]:
    """What OpenAPI says an operation behind `current_session` accepts: a bearer
    token, or the session cookie (plus the CSRF token on unsafe methods)."""
    cookie: dict[str, list[str]] = {cookie_scheme.scheme_name: []}
    if method.upper() not in SAFE_METHODS:
        cookie[csrf_scheme.scheme_name] = []
    return [{bearer_scheme.scheme_name: []}, cookie]


SESSION_SECURITY_SCHEMES = (bearer_scheme, cookie_scheme, csrf_scheme)


CurrentSession = Annotated[SignedIn, Depends(current_session)]


def step_up_vectors(configured: str) -> tuple[str, ...]:
    """The P9 vectors this service asks for (or NHS login's P9 defaults)."""
    p9 = tuple(v for v in vectors_from_json(configured) if v.startswith("P9."))
    return p9 or vectors_from_json(DEFAULT_VTR)


def step_up_url(request: Request, auth: AuthRuntime) -> str:
    """Sign in again asking NHS login for P9 only, then come back here."""
    vectors = step_up_vectors(auth.settings.nhs_login_vtr)
    query = {"vtr": vectors_to_json(vectors)}
    if request.method == "GET":
        query["return_to"] = request.url.path + (
            f"?{request.url.query}" if request.url.query else ""
        )
    return "/v1/auth/login?" + urlencode(query)


def require_identity_level(level: IdentityLevel) -> Callable[..., Awaitable[SignedIn]]:
    """A dependency: the current session, if NHS login verified the user to `level`."""

    async def signed_in_at_level(
        request: Request, signed_in: CurrentSession, auth: AuthDep
    ) -> SignedIn:
        if LEVEL_RANK[signed_in.identity_level] < LEVEL_RANK[level]:
            raise IdentityVerificationRequired(step_up_url(request, auth))
        return signed_in

    return signed_in_at_level


P9Session = Annotated[SignedIn, Depends(require_identity_level("P9"))]
