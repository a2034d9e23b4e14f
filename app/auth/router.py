"""Signing in with NHS login (web and native apps), the session, and signing out."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.auth import service
from app.auth.cookies import CSRF_COOKIE, LOGIN_COOKIE, SESSION_COOKIE
from app.auth.deps import (
    AuthDep,
    CurrentSession,
    bearer_scheme,
    check_same_site,
    cookie_scheme,
    csrf_scheme,
    presented_token,
    step_up_vectors,
)
from app.auth.oidc import RelyingParty, vectors_from_json
from app.auth.problems import (
    InvalidReturnTo,
    InvalidVectorsOfTrust,
    LoginCancelled,
    LoginCookieMissing,
    LoginFailed,
    NHSLoginUnavailable,
    NotSignedIn,
    RedirectURINotAllowed,
    SessionExpired,
)
from app.auth.runtime import AuthRuntime
from app.auth.schemas import (
    SESSION_EXCHANGE_EXAMPLES,
    BearerSession,
    SessionDescription,
    SessionExchange,
)
from app.clock import ClockDep
from app.config import AppEnv
from app.db import SessionDep, autocommit_engine
from app.gp import errors as gp
from app.problems import problem_responses
from app.public_address import same_server_at_public_address
from app.ratelimit.deps import SignInRateLimit
from app.ratelimit.service import RateLimited

router = APIRouter(prefix="/v1/auth", tags=["auth"])
# Finishing a sign-in (web or app): NHS login's answer, then linking to the GP system.
SIGN_IN_PROBLEMS = (
    LoginFailed,
    NHSLoginUnavailable,
    RateLimited,
    gp.LinkageFailed,
    gp.PatientNotFound,
    gp.GPSystemUnavailable,
)
logger = logging.getLogger(__name__)

_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")


def safe_return_to(value: str | None) -> str:
    """A path on this site to come back to; anything that could leave the site is refused.

    Refuses schemes (`https:`, `javascript:`), network paths (`//host`), backslashes
    (`/\\host`, which browsers read as `//host`), whitespace and control characters.
    """
    if value is None or value == "":
        return "/"
    parts = urlsplit(value)
    if (
        len(value) > 2048
        or not value.startswith("/")
        or value.startswith("//")
        or _UNSAFE_IN_PATH.search(value)
        or parts.scheme
        or parts.netloc
    ):
        raise InvalidReturnTo()
    return value


def with_flag(path: str, **flags: str) -> str:
    """`path` with `flags` added to its query (before any `#fragment`)."""
    parts = urlsplit(path)
    query = f"{parts.query}&{urlencode(flags)}" if parts.query else urlencode(flags)
    return urlunsplit(parts._replace(query=query))


def _relying_party(auth: AuthRuntime) -> RelyingParty:
    if auth.relying_party is None:
        raise NHSLoginUnavailable("Signing in with NHS login is not set up on this service.")
    return auth.relying_party


def _accepted_vectors(auth: AuthRuntime) -> tuple[str, ...]:
    configured = vectors_from_json(auth.settings.nhs_login_vtr)
    return configured + tuple(
        v for v in step_up_vectors(auth.settings.nhs_login_vtr) if v not in configured
    )


def _set_cookie(response: Response, key: str, value: str, max_age: int, *, httponly: bool) -> None:
    response.set_cookie(
        key, value, max_age=max_age, path="/", secure=True, httponly=httponly, samesite="lax"
    )


def _clear_cookie(response: Response, key: str, *, httponly: bool = True) -> None:
    response.delete_cookie(key, path="/", secure=True, httponly=httponly, samesite="lax")


@router.get(
    "/login",
    status_code=status.HTTP_302_FOUND,
    summary="Sign in with NHS login (web)",
    response_class=RedirectResponse,
    responses={
        302: {"description": "Redirect to NHS login."},
        **problem_responses(
            InvalidReturnTo, InvalidVectorsOfTrust, NHSLoginUnavailable, RateLimited
        ),
    },
    dependencies=[SignInRateLimit],
)
async def sign_in(
    request: Request,
    auth: AuthDep,
    clock: ClockDep,
    return_to: Annotated[
        str | None, Query(description="A path on this site to come back to, e.g. `/appointments`.")
    ] = None,
    vtr: Annotated[
        str | None,
        Query(description="Vectors of trust as a JSON array; only the ones this service uses."),
    ] = None,
) -> RedirectResponse:
    """Start signing in: redirect to NHS login, remembering state, nonce and PKCE verifier.

    Open it in the browser's address bar (e.g. `/v1/auth/login?return_to=/docs`), not with
    *Try it out*: the answer is a redirect to NHS login's sign-in page. Apps sign in with
    `POST /v1/auth/session` instead."""
    if auth.settings.app_env is AppEnv.DEV:
        # Opened by another local name for this server (localhost, 0.0.0.0): start at the
        # public address, where the sign-in comes back to and its cookie must be kept.
        public = same_server_at_public_address(str(request.url), auth.settings.public_base_url)
        if public is not None:
            return RedirectResponse(public, status_code=status.HTTP_302_FOUND)
    path = safe_return_to(return_to)
    vectors = vectors_from_json(auth.settings.nhs_login_vtr)
    if vtr is not None:
        try:
            vectors = vectors_from_json(vtr)
        except ValueError:
            raise InvalidVectorsOfTrust() from None
        if not set(vectors) <= set(_accepted_vectors(auth)):
            raise InvalidVectorsOfTrust()
    relying_party = _relying_party(auth)
    # NHS login: state and nonce are mandatory; PKCE (S256) guards the code as well.
    transaction: dict[str, Any] = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48) if relying_party.config.pkce else None,
        "return_to": path,
        "vtr": list(vectors),
    }
    url = await relying_party.authorization_url(
        state=transaction["state"],
        nonce=transaction["nonce"],
        code_verifier=transaction["verifier"],
        vectors=vectors,
    )
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    value = auth.login_cookie.dumps(transaction, now=clock.now())
    max_age = int(auth.login_cookie.max_age.total_seconds())
    _set_cookie(response, LOGIN_COOKIE, value, max_age, httponly=True)
    return response


# What NHS login sends back to the callback, each at most once.
_CALLBACK_PARAMETERS = ("code", "state", "error", "iss")


@router.get(
    "/callback",
    status_code=status.HTTP_303_SEE_OTHER,
    summary="Finish signing in with NHS login (web)",
    response_class=RedirectResponse,
    responses={
        303: {"description": "Signed in (or cancelled): back to `return_to`."},
        **problem_responses(*SIGN_IN_PROBLEMS, LoginCancelled, LoginCookieMissing, InvalidReturnTo),
    },
    dependencies=[SignInRateLimit],
)
async def finish_sign_in(
    request: Request,
    db: SessionDep,
    auth: AuthDep,
    clock: ClockDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=128)] = None,
    iss: Annotated[str | None, Query(max_length=2048)] = None,
) -> RedirectResponse:
    """NHS login sends the browser here; sets the session cookie and goes back to `return_to`."""
    query = request.query_params
    repeated = [name for name in _CALLBACK_PARAMETERS if len(query.getlist(name)) > 1]
    if repeated:
        # One answer from NHS login has each of these once: two `iss` (or two codes) is a
        # response built to be read one way here and another way elsewhere (RFC 9207).
        logger.info("sign-in failed: repeated %s", ",".join(repeated))
        raise LoginFailed()
    raw = request.cookies.get(LOGIN_COOKIE)
    transaction = auth.login_cookie.loads(raw, now=clock.now()) if raw else None
    state_matches = bool(
        transaction
        and state
        and isinstance(transaction.get("state"), str)
        and hmac.compare_digest(state, transaction["state"])
    )
    if auth.relying_party is not None:
        await auth.relying_party.check_response_issuer(iss)  # RFC 9207, errors included
    if error is not None:
        # NHS login: access_denied means the user chose not to continue. That is normal:
        # back where they were, with a flag the page can show a calm message for.
        if error == "access_denied" and transaction and state_matches:
            response = RedirectResponse(
                with_flag(safe_return_to(transaction["return_to"]), login_error="login_cancelled"),
                status_code=status.HTTP_303_SEE_OTHER,
            )
            _clear_cookie(response, LOGIN_COOKIE)
            return response
        raise LoginCancelled() if error == "access_denied" else LoginFailed()
    if raw is None:
        # The reason code only, never the cookie or the query: they carry one-time secrets.
        logger.info("sign-in failed: %s", LoginCookieMissing.code)
        raise LoginCookieMissing(auth.settings.public_base_url)
    if not transaction or not state_matches or not code:
        reason = (
            "login_cookie_invalid_or_expired"
            if not transaction
            else "state_mismatch"
            if not state_matches
            else "code_missing"
        )
        logger.info("sign-in failed: %s", reason)
        raise LoginFailed()
    relying_party = _relying_party(auth)
    identity = await relying_party.complete(
        code=code,
        redirect_uri=relying_party.config.redirect_uri,
        code_verifier=transaction.get("verifier"),
        nonce=str(transaction["nonce"]),
        vectors=tuple(transaction["vtr"]),
    )
    issued = await service.sign_in(
        db,
        identity,
        registry=request.app.state.gp_registry,
        cipher=auth.cipher,
        clock=clock,
        policy=auth.policy,
        via="cookie",
    )
    if previous := request.cookies.get(SESSION_COOKIE):
        await service.end_replaced_session(db, previous, clock=clock)
    response = RedirectResponse(
        safe_return_to(transaction["return_to"]), status_code=status.HTTP_303_SEE_OTHER
    )
    max_age = int(auth.policy.absolute.total_seconds())
    _set_cookie(response, SESSION_COOKIE, issued.token, max_age, httponly=True)
    # Readable by the page's script, which echoes it in X-CSRF-Token (double submit).
    csrf = auth.csrf_token(issued.signed_in.session_id)
    _set_cookie(response, CSRF_COOKIE, csrf, max_age, httponly=False)
    _clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    summary="Exchange an NHS login code for a session (native apps)",
    responses=problem_responses(*SIGN_IN_PROBLEMS, RedirectURINotAllowed),
    dependencies=[SignInRateLimit],
)
async def create_app_session(
    request: Request,
    body: Annotated[SessionExchange, Body(openapi_examples=SESSION_EXCHANGE_EXAMPLES)],
    db: SessionDep,
    auth: AuthDep,
    clock: ClockDep,
) -> BearerSession:
    """The app ran the NHS login authorize step itself (with its own state check); hand over
    the code, the PKCE verifier and the nonce, and get a bearer token back."""
    relying_party = _relying_party(auth)
    if body.redirect_uri not in relying_party.config.app_redirect_uris:
        raise RedirectURINotAllowed()
    if relying_party.config.pkce and body.code_verifier is None:
        raise LoginFailed("This sign-in needs the PKCE code_verifier the app created.")
    await relying_party.check_response_issuer(body.iss)  # RFC 9207, as on the web callback
    identity = await relying_party.complete(
        code=body.code,
        redirect_uri=body.redirect_uri,
        code_verifier=body.code_verifier,
        nonce=body.nonce,
        vectors=_accepted_vectors(auth),
    )
    issued = await service.sign_in(
        db,
        identity,
        registry=request.app.state.gp_registry,
        cipher=auth.cipher,
        clock=clock,
        policy=auth.policy,
        via="bearer",
    )
    signed_in = issued.signed_in
    return BearerSession(
        access_token=issued.token,
        expires_at=signed_in.expires_at,
        expires_in=int((signed_in.expires_at - clock.now()).total_seconds()),
        idle_timeout=int(auth.policy.idle.total_seconds()),
        identity_level=signed_in.identity_level,
    )


@router.get(
    "/session",
    summary="Describe the current session",
    responses=problem_responses(),
)
async def get_current_session(signed_in: CurrentSession, auth: AuthDep) -> SessionDescription:
    """Who is signed in and until when; cookie sessions also get their CSRF token."""
    return SessionDescription(
        via=signed_in.via,
        identity_level=signed_in.identity_level,
        ods_code=signed_in.ods_code,
        gp_linked=signed_in.gp_user_ref is not None,
        expires_at=signed_in.expires_at,
        idle_expires_at=signed_in.idle_expires_at,
        csrf_token=auth.csrf_token(signed_in.session_id) if signed_in.via == "cookie" else None,
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    response_class=Response,
    responses=problem_responses(),
)
async def sign_out(
    request: Request,
    db: SessionDep,
    auth: AuthDep,
    clock: ClockDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
    csrf: Annotated[str | None, Depends(csrf_scheme)],
) -> Response:
    """End the session now (NHS login has no logout of its own). Signing out twice is fine."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    presented = presented_token(bearer, cookie)
    if presented is not None:
        token, via = presented
        try:
            signed_in = await service.find_session(
                autocommit_engine(request), token, via=via, now=clock.now(), policy=auth.policy
            )
        except (NotSignedIn, SessionExpired):
            signed_in = None
        if signed_in is not None:
            if via == "cookie":
                await check_same_site(request, auth, signed_in, csrf)
            await service.sign_out(db, signed_in, clock=clock)
    _clear_cookie(response, SESSION_COOKIE)
    _clear_cookie(response, CSRF_COOKIE, httponly=False)
    return response
