"""Request and response bodies for practice staff signing in and out (NHS CIS2)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi.openapi.models import Example
from pydantic import Field

from app.schemas import RequestBody, ResponseBody
from app.staff.types import StaffRole, StaffVia


class StaffSessionExchange(RequestBody):
    """What a staff app sends after NHS CIS2 redirected back to it with a code."""

    code: str = Field(min_length=1, max_length=2048, description="The authorization code.")
    redirect_uri: str = Field(
        min_length=1,
        max_length=2048,
        description="The redirect URI the app used; it must be registered with this service.",
    )
    code_verifier: str | None = Field(
        default=None,
        min_length=43,
        max_length=128,
        pattern=r"^[A-Za-z0-9._~-]+$",
        description="The PKCE verifier (RFC 7636) whose S256 challenge the app sent.",
    )
    nonce: str = Field(min_length=1, max_length=255, description="The nonce the app sent to CIS2.")
    iss: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="The `iss` parameter of CIS2's redirect (RFC 9207), passed on as received.",
    )


class StaffBearerSession(ResponseBody):
    """A new staff session for an app."""

    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime = Field(description="The session ends at this time whatever happens.")
    expires_in: int = Field(description="Seconds until `expires_at`.")
    idle_timeout: int = Field(description="Seconds without a request after which it ends sooner.")


class PracticeRoles(ResponseBody):
    """What the staff member may do at one organisation, from their CIS2 roles there."""

    ods_code: str = Field(description="The organisation's ODS code, as CIS2 names it.")
    roles: list[StaffRole] = Field(
        description="What their national RBAC roles there allow in this service: "
        "`clinician` (clinical review, and all an administrator may do) or "
        "`administrator`. Empty when no role there allows anything here."
    )


class StaffDescription(ResponseBody):
    """The signed-in member of practice staff, and their session."""

    user_id: str = Field(description="Their NHS CIS2 user id.")
    name: str = Field(description="Their name, as NHS CIS2 gives it.")
    practices: list[PracticeRoles] = Field(
        description="Each organisation they hold a role at. Only these practices' "
        "`/v1/practices/{ods_code}/…` routes answer them."
    )
    via: StaffVia = Field(description="`cookie` for the web, `bearer` for apps.")
    expires_at: datetime
    idle_expires_at: datetime


STAFF_SESSION_EXCHANGE_EXAMPLES: dict[str, Example] = {
    "app": {
        "summary": "After NHS CIS2 redirected to the staff app's registered URI",
        "value": {
            "code": "Jx2v8Qm1rS6tK0aYb3nW4eZ5cU7dH9fG",
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-9a8b7c6d5e4f3g2h1",
            "nonce": "n-0S6_WzA2Mj",
        },
    }
}
