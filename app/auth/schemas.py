"""Request and response bodies for signing in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi.openapi.models import Example
from pydantic import Field

from app.auth.types import IdentityLevel, Via
from app.schemas import RequestBody, ResponseBody


class SessionExchange(RequestBody):
    """What a native app sends after NHS login redirected back to it with a code."""

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
    nonce: str = Field(
        min_length=1, max_length=255, description="The nonce the app sent to NHS login."
    )
    iss: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description=(
            "The `iss` parameter of NHS login's redirect (RFC 9207), passed on as received. "
            "Required where NHS login advertises it; compared with NHS login's issuer whenever "
            "sent, so a code from another provider is never exchanged."
        ),
    )


class BearerSession(ResponseBody):
    """A new session for a native app."""

    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime = Field(description="The session ends at this time whatever happens.")
    expires_in: int = Field(description="Seconds until `expires_at`.")
    idle_timeout: int = Field(description="Seconds without a request after which it ends sooner.")
    identity_level: IdentityLevel


class SessionDescription(ResponseBody):
    """The session this request was made with."""

    via: Via = Field(description="`cookie` for the web, `bearer` for apps.")
    identity_level: IdentityLevel = Field(
        description="NHS login identity proofing level: P9 is needed for GP services."
    )
    ods_code: str | None = Field(description="The user's GP practice.")
    gp_linked: bool = Field(description="Whether the GP practice's system knows the user.")
    expires_at: datetime
    idle_expires_at: datetime
    csrf_token: str | None = Field(
        description="Cookie sessions: send as `X-CSRF-Token` on POST, PUT, PATCH and DELETE."
    )


SESSION_EXCHANGE_EXAMPLES: dict[str, Example] = {
    "app": {
        "summary": "After NHS login redirected to the app's registered URI",
        "value": {
            "code": "Jx2v8Qm1rS6tK0aYb3nW4eZ5cU7dH9fG",
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-9a8b7c6d5e4f3g2h1",
            "nonce": "n-0S6_WzA2Mj",
        },
    }
}
