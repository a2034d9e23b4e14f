"""The problems staff sign-in and the staff routes can raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from app.problems import Problem
from app.staff.types import StaffRole


class StaffNotSignedIn(Problem):
    status = 401
    code = "staff_not_signed_in"
    title = "Not signed in as practice staff"
    default_detail = "Please sign in as a member of practice staff with NHS CIS2."


class StaffSessionExpired(Problem):
    status = 401
    code = "staff_session_expired"
    title = "Staff session expired"
    default_detail = (
        "Your staff session has ended (30 minutes without use, or 12 hours in all). "
        "Please sign in with NHS CIS2 again."
    )


class NotStaffOfPractice(Problem):
    status = 403
    code = "not_staff_of_practice"
    title = "Not staff of this practice"
    default_detail = "Your role is not at this practice: you cannot see its applications."


class StaffRoleRequired(Problem):
    status = 403
    code = "staff_role_required"
    title = "Role required"
    default_detail = "Your role at the practice does not allow this."

    def __init__(self, role: StaffRole) -> None:
        super().__init__(f"Only a {role.value} at the practice can do this.")


class StaffLoginFailed(Problem):
    status = 401
    code = "staff_login_failed"
    title = "Staff sign-in failed"
    default_detail = "We could not sign you in with NHS CIS2. Please try again."


class StaffLoginCancelled(Problem):
    status = 401
    code = "staff_login_cancelled"
    title = "Staff sign-in cancelled"
    default_detail = "You cancelled signing in with NHS CIS2. You can try again at any time."


class CIS2Unavailable(Problem):
    status = 503
    code = "cis2_unavailable"
    title = "NHS CIS2 unavailable"
    default_detail = "NHS CIS2 is not available at the moment. Please try again in a few minutes."
    example_extra: ClassVar[Mapping[str, object]] = {"retry_after": 30}

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "30"}, extra={"retry_after": 30})


class StaffOriginNotAllowed(Problem):
    status = 403
    code = "staff_origin_not_allowed"
    title = "Request not shown to come from this site"
    default_detail = (
        "With the staff session cookie, a change must come from this site's own pages: "
        "the browser's Origin or Sec-Fetch-Site header must say so. Apps send the staff "
        "token as Authorization: Bearer instead."
    )
