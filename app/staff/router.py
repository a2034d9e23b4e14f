"""Practice staff sign in with NHS CIS2 (web and apps), who is signed in, and sign out.

The same shapes as patients' sign-in (`app.auth.router`), under `/v1/staff/auth`, with
the staff's own cookies and sessions. CIS2's role claims decide which practices'
routes answer (`app.staff.deps`).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.auth.cookies import STAFF_LOGIN_COOKIE, STAFF_SESSION_COOKIE
from app.auth.oidc import RelyingParty
from app.auth.problems import InvalidReturnTo, LoginFailed, NHSLoginUnavailable
from app.auth.router import safe_return_to, with_flag
from app.clock import ClockDep
from app.config import AppEnv
from app.db import SessionDep
from app.problems import problem_responses
from app.public_address import same_server_at_public_address
from app.ratelimit.deps import SignInRateLimit
from app.ratelimit.service import RateLimited
from app.staff import service
from app.staff.deps import (
    STAFF_PROBLEMS,
    CurrentStaffSession,
    StaffAuthDep,
    check_staff_origin,
    presented_staff_token,
    staff_scheme,
)
from app.staff.problems import (
    CIS2Unavailable,
    StaffLoginCancelled,
    StaffLoginFailed,
    StaffNotSignedIn,
    StaffSessionExpired,
)
from app.staff.roles import staff_identity
from app.staff.schemas import (
    STAFF_SESSION_EXCHANGE_EXAMPLES,
    PracticeRoles,
    StaffBearerSession,
    StaffDescription,
    StaffSessionExchange,
)

STAFF_AUTH_TAG = "staff sign-in"

router = APIRouter(prefix="/v1/staff", tags=[STAFF_AUTH_TAG])
SIGN_IN_PROBLEMS = (StaffLoginFailed, CIS2Unavailable, RateLimited)
# What CIS2 sends back to the callback, each at most once.
_CALLBACK_PARAMETERS = ("code", "state", "error", "iss")
logger = logging.getLogger(__name__)


@contextmanager
def _as_staff_problems() -> Iterator[None]:
    """The relying party's refusals, in words for staff: CIS2, not NHS login."""
    try:
        yield
    except LoginFailed:
        raise StaffLoginFailed() from None
    except NHSLoginUnavailable:
        raise CIS2Unavailable() from None


def _relying_party(staff_auth: StaffAuthDep) -> RelyingParty:
    if staff_auth.relying_party is None:
        raise CIS2Unavailable("Signing in with NHS CIS2 is not set up on this service.")
    return staff_auth.relying_party


def _set_cookie(
    response: Response,
    key: str,
    value: str,
    max_age: int,
    *,
    samesite: Literal["lax", "strict"],
) -> None:
    response.set_cookie(
        key, value, max_age=max_age, path="/", secure=True, httponly=True, samesite=samesite
    )


def _clear_cookie(response: Response, key: str) -> None:
    response.delete_cookie(key, path="/", secure=True, httponly=True, samesite="lax")


@router.get(
    "/auth/login",
    status_code=status.HTTP_302_FOUND,
    summary="Sign in as practice staff with NHS CIS2 (web)",
    response_class=RedirectResponse,
    responses={
        302: {"description": "Redirect to NHS CIS2."},
        **problem_responses(InvalidReturnTo, CIS2Unavailable, RateLimited),
    },
    dependencies=[SignInRateLimit],
)
async def staff_sign_in(
    request: Request,
    staff_auth: StaffAuthDep,
    clock: ClockDep,
    return_to: Annotated[
        str | None, Query(description="A path on this site to come back to, e.g. `/docs`.")
    ] = None,
) -> RedirectResponse:
    """Start signing in: redirect to NHS CIS2, remembering state, nonce and PKCE verifier.

    Open it in the browser's address bar (e.g. `/v1/staff/auth/login?return_to=/docs`),
    not with *Try it out*. Staff apps sign in with `POST /v1/staff/auth/session` instead."""
    settings = request.app.state.settings
    if settings.app_env is AppEnv.DEV:
        public = same_server_at_public_address(str(request.url), settings.public_base_url)
        if public is not None:
            return RedirectResponse(public, status_code=status.HTTP_302_FOUND)
    path = safe_return_to(return_to)
    relying_party = _relying_party(staff_auth)
    transaction: dict[str, Any] = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48) if relying_party.config.pkce else None,
        "return_to": path,
    }
    with _as_staff_problems():
        url = await relying_party.authorization_url(
            state=transaction["state"],
            nonce=transaction["nonce"],
            code_verifier=transaction["verifier"],
            vectors=relying_party.config.vectors,
        )
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    value = staff_auth.login_cookie.dumps(transaction, now=clock.now())
    max_age = int(staff_auth.login_cookie.max_age.total_seconds())
    # Lax: it must come back with CIS2's redirect to the callback.
    _set_cookie(response, STAFF_LOGIN_COOKIE, value, max_age, samesite="lax")
    return response


@router.get(
    "/auth/callback",
    status_code=status.HTTP_303_SEE_OTHER,
    summary="Finish signing in as practice staff (web)",
    response_class=RedirectResponse,
    responses={
        303: {"description": "Signed in (or cancelled): back to `return_to`."},
        **problem_responses(*SIGN_IN_PROBLEMS, StaffLoginCancelled, InvalidReturnTo),
    },
    dependencies=[SignInRateLimit],
)
async def finish_staff_sign_in(
    request: Request,
    db: SessionDep,
    staff_auth: StaffAuthDep,
    clock: ClockDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=128)] = None,
    iss: Annotated[str | None, Query(max_length=2048)] = None,
) -> RedirectResponse:
    """NHS CIS2 sends the browser here; sets the staff session cookie and goes back."""
    query = request.query_params
    if any(len(query.getlist(name)) > 1 for name in _CALLBACK_PARAMETERS):
        logger.info("staff sign-in failed: repeated parameters")
        raise StaffLoginFailed()
    raw = request.cookies.get(STAFF_LOGIN_COOKIE)
    transaction = staff_auth.login_cookie.loads(raw, now=clock.now()) if raw else None
    state_matches = bool(
        transaction
        and state
        and isinstance(transaction.get("state"), str)
        and hmac.compare_digest(state, transaction["state"])
    )
    relying_party = _relying_party(staff_auth)
    with _as_staff_problems():
        await relying_party.check_response_issuer(iss)  # RFC 9207, errors included
    if error is not None:
        if error == "access_denied" and transaction and state_matches:
            response = RedirectResponse(
                with_flag(safe_return_to(transaction["return_to"]), login_error="login_cancelled"),
                status_code=status.HTTP_303_SEE_OTHER,
            )
            _clear_cookie(response, STAFF_LOGIN_COOKIE)
            return response
        raise StaffLoginCancelled() if error == "access_denied" else StaffLoginFailed()
    if not transaction or not state_matches or not code:
        logger.info("staff sign-in failed: no matching sign-in started here")
        raise StaffLoginFailed()
    with _as_staff_problems():
        verified = await relying_party.verify_sign_in(
            code=code,
            redirect_uri=relying_party.config.redirect_uri,
            code_verifier=transaction.get("verifier"),
            nonce=str(transaction["nonce"]),
            vectors=relying_party.config.vectors,
        )
        identity = staff_identity(verified.claims, verified.userinfo)
    issued = await service.sign_in(
        db, identity, clock=clock, policy=staff_auth.policy, via="cookie"
    )
    if previous := request.cookies.get(STAFF_SESSION_COOKIE):
        # Signing in on a browser ends the staff session it already held.
        await service.sign_out(db, previous, clock=clock)
    response = RedirectResponse(
        safe_return_to(transaction["return_to"]), status_code=status.HTTP_303_SEE_OTHER
    )
    max_age = int(staff_auth.policy.absolute.total_seconds())
    # Strict: never sent with a request another site starts (`check_staff_origin`).
    _set_cookie(response, STAFF_SESSION_COOKIE, issued.token, max_age, samesite="strict")
    _clear_cookie(response, STAFF_LOGIN_COOKIE)
    return response


@router.post(
    "/auth/session",
    status_code=status.HTTP_201_CREATED,
    summary="Exchange an NHS CIS2 code for a staff session (apps)",
    responses=problem_responses(*SIGN_IN_PROBLEMS),
    dependencies=[SignInRateLimit],
)
async def create_staff_app_session(
    body: Annotated[StaffSessionExchange, Body(openapi_examples=STAFF_SESSION_EXCHANGE_EXAMPLES)],
    db: SessionDep,
    staff_auth: StaffAuthDep,
    clock: ClockDep,
) -> StaffBearerSession:
    """The staff app ran CIS2's authorize step itself (with its own state check); hand
    over the code, the PKCE verifier and the nonce, and get a staff bearer token back."""
    relying_party = _relying_party(staff_auth)
    if body.redirect_uri not in relying_party.config.app_redirect_uris:
        raise StaffLoginFailed("This redirect_uri is not registered for staff apps.")
    if relying_party.config.pkce and body.code_verifier is None:
        raise StaffLoginFailed("This sign-in needs the PKCE code_verifier the app created.")
    with _as_staff_problems():
        await relying_party.check_response_issuer(body.iss)
        verified = await relying_party.verify_sign_in(
            code=body.code,
            redirect_uri=body.redirect_uri,
            code_verifier=body.code_verifier,
            nonce=body.nonce,
            vectors=relying_party.config.vectors,
        )
        identity = staff_identity(verified.claims, verified.userinfo)
    issued = await service.sign_in(
        db, identity, clock=clock, policy=staff_auth.policy, via="bearer"
    )
    expires_at = issued.signed_in.expires_at
    return StaffBearerSession(
        access_token=issued.token,
        expires_at=expires_at,
        expires_in=int((expires_at - clock.now()).total_seconds()),
        idle_timeout=int(staff_auth.policy.idle.total_seconds()),
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out as practice staff",
    response_class=Response,
    responses=problem_responses(),
    # Signing out without a live session is a 204 like the first time.
    openapi_extra={"security": [{}]},
)
async def staff_sign_out(
    request: Request,
    db: SessionDep,
    staff_auth: StaffAuthDep,
    clock: ClockDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(staff_scheme)],
) -> Response:
    """End the staff session now. Signing out twice is fine."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    presented = presented_staff_token(request, bearer)
    if presented is not None:
        token, via = presented
        if via == "cookie":
            check_staff_origin(request, request.app.state.settings)
        try:
            await service.find_session(
                request.app.state.autocommit_engine,
                token,
                via=via,
                now=clock.now(),
                policy=staff_auth.policy,
            )
        except (StaffNotSignedIn, StaffSessionExpired):
            pass  # nothing live to end
        else:
            await service.sign_out(db, token, clock=clock)
    _clear_cookie(response, STAFF_SESSION_COOKIE)
    return response


@router.get(
    "/me",
    summary="The signed-in member of practice staff",
    description="Who NHS CIS2 says they are, each organisation they hold a role at with "
    "what it allows here, and when the session ends.",
    responses=problem_responses(*STAFF_PROBLEMS[:3]),
)
async def get_signed_in_staff(session: CurrentStaffSession) -> StaffDescription:
    member = session.member
    return StaffDescription(
        user_id=member.user_id,
        name=member.name,
        practices=[
            PracticeRoles(ods_code=code, roles=sorted(roles))
            for code, roles in sorted(member.practices.items())
        ],
        via=session.via,
        expires_at=session.expires_at,
        idle_expires_at=session.idle_expires_at,
    )
