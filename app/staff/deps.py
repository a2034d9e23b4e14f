"""Who is acting for a practice: the dependency every `/v1/practices/{ods_code}/…` route uses.

- `signed_in_staff(request) -> StaffMember` is the one place that reads a staff
  session (NHS CIS2, `app.staff.service`). It answers only for a live staff session,
  by its own token (`Authorization: Bearer`) or its own cookie (`__Host-gp_staff_session`),
  never a patient's: staff sessions live in a table of their own. It raises
  `StaffNotSignedIn` or `StaffSessionExpired` (401) otherwise. With the cookie, a change
  (POST and the other unsafe methods) must show it comes from this site (`check_staff_origin`).
- `current_staff(ods_code, staff) -> StaffMember` checks that the staff member holds a
  role at the practice in the path (else 403 `not_staff_of_practice`), and narrows them
  to what their roles there allow: staff of one practice never see another's applications.
  `StaffAtPractice` is its alias.
- `RequireStaffRole(role)` also demands a role there (else 403 `staff_role_required`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.cookies import STAFF_SESSION_COOKIE
from app.auth.deps import SAFE_METHODS, origin_of
from app.auth.runtime import StaffAuthRuntime
from app.config import Settings
from app.db import autocommit_engine
from app.ratelimit.guard import enforce
from app.ratelimit.service import Budget
from app.staff import service
from app.staff.problems import (
    NotStaffOfPractice,
    StaffNotSignedIn,
    StaffOriginNotAllowed,
    StaffRoleRequired,
    StaffSessionExpired,
)
from app.staff.types import StaffMember, StaffRole, StaffSignedIn, StaffVia

__all__ = [
    "STAFF_PROBLEMS",
    "ClinicianAtPractice",
    "CurrentStaffSession",
    "NotStaffOfPractice",
    "RequireStaffRole",
    "SignedInStaff",
    "StaffAtPractice",
    "StaffMember",
    "StaffNotSignedIn",
    "StaffRole",
    "StaffRoleRequired",
    "current_staff",
    "signed_in_staff",
]

StaffODSCode = Annotated[
    str,
    Path(
        description="The practice's ODS code, as the staff member's role names it.",
        min_length=3,
        max_length=10,
        pattern=r"^[A-Z0-9]+$",
    ),
]


# Named in the OpenAPI document, so that staff routes show their own security scheme.
staff_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="StaffSession",
    description=(
        "A practice staff session (NHS CIS2): the token from POST /v1/staff/auth/session, "
        "or in a browser the `__Host-gp_staff_session` cookie, set by signing in at "
        "`/v1/staff/auth/login?return_to=/docs` (nothing to paste: the browser sends it). "
        "A patient's session is never one."
    ),
)


async def get_staff_auth(request: Request) -> StaffAuthRuntime:
    runtime: StaffAuthRuntime = request.app.state.staff_auth
    return runtime


StaffAuthDep = Annotated[StaffAuthRuntime, Depends(get_staff_auth)]


def presented_staff_token(
    request: Request, bearer: HTTPAuthorizationCredentials | None
) -> tuple[str, StaffVia] | None:
    """The staff token and how it came; a bearer token wins over the staff cookie."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials, "bearer"
    if cookie := request.cookies.get(STAFF_SESSION_COOKIE):
        return cookie, "cookie"
    return None


def check_staff_origin(request: Request, settings: Settings) -> None:
    """A change made with the staff cookie must say it comes from this site (or an allowed
    CORS origin): `Sec-Fetch-Site: same-origin`, or an `Origin` of ours. Browsers send
    both on every unsafe request, so a page of another site is refused, and so is a
    request that says neither (not a browser: it should use the bearer token). With
    the cookie's `SameSite=Strict`, this stands in for the patients' CSRF token, so that
    Swagger UI, which sends that token from the patients' cookie, works for staff too.
    """
    allowed = {origin_of(settings.public_base_url)} | {
        origin_of(origin) for origin in settings.cors_allow_origins
    }
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if origin is not None:
        if origin.lower() not in allowed:
            raise StaffOriginNotAllowed()
        return
    if fetch_site != "same-origin":
        raise StaffOriginNotAllowed()


async def current_staff_session(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(staff_scheme)],
) -> StaffSignedIn:
    """The live staff session behind this request; 401 without one."""
    presented = presented_staff_token(request, bearer)
    if presented is None:
        raise StaffNotSignedIn()
    token, via = presented
    staff_auth: StaffAuthRuntime = request.app.state.staff_auth
    now = request.app.state.clock.now()
    reader = autocommit_engine(request)
    signed_in = await service.find_session(
        reader, token, via=via, now=now, policy=staff_auth.policy
    )
    actor = signed_in.member.audit_id
    # The per-person ceiling on every signed-in request, as for patients' accounts.
    await enforce(request, Budget.ACCOUNT, actor, account_id=actor)
    if via == "cookie" and request.method not in SAFE_METHODS:
        check_staff_origin(request, request.app.state.settings)
    await service.touch_session(reader, signed_in, now=now)
    return signed_in


CurrentStaffSession = Annotated[StaffSignedIn, Depends(current_staff_session)]


async def signed_in_staff(session: CurrentStaffSession) -> StaffMember:
    """The staff member behind this request's staff session; 401 without one.

    Tests may stand a member in by overriding this function
    (`app.dependency_overrides[signed_in_staff] = …`); most sign in for real.
    """
    return session.member


SignedInStaff = Annotated[StaffMember, Depends(signed_in_staff)]


async def current_staff(ods_code: StaffODSCode, staff: SignedInStaff) -> StaffMember:
    """The staff member acting at the practice in the path, with what their roles there
    allow; 403 when they hold no role there that allows anything."""
    at_practice = staff.at(ods_code)
    if not at_practice.roles:
        raise NotStaffOfPractice()
    return at_practice


StaffAtPractice = Annotated[StaffMember, Depends(current_staff)]


class RequireStaffRole:
    """A dependency that also demands a role at the practice (a clinician has every role)."""

    def __init__(self, role: StaffRole) -> None:
        self.role = role

    async def __call__(self, staff: StaffAtPractice) -> StaffMember:
        if self.role not in staff.roles and StaffRole.CLINICIAN not in staff.roles:
            raise StaffRoleRequired(self.role)
        return staff


ClinicianAtPractice = Annotated[StaffMember, Depends(RequireStaffRole(StaffRole.CLINICIAN))]

# What every staff route may answer through these dependencies.
STAFF_PROBLEMS = (
    StaffNotSignedIn,
    StaffSessionExpired,
    StaffOriginNotAllowed,
    NotStaffOfPractice,
    StaffRoleRequired,
)
