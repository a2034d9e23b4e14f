"""What the rest of the app knows about whoever is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

IdentityLevel = Literal["P0", "P5", "P9"]
Via = Literal["cookie", "bearer"]
LEVEL_RANK: dict[str, int] = {"P0": 0, "P5": 5, "P9": 9}


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: the account behind it and when it ends."""

    session_id: str
    account_id: str
    nhs_login_sub: str
    nhs_number: str | None
    identity_level: IdentityLevel
    ods_code: str | None
    gp_user_ref: str | None
    expires_at: datetime  # absolute end: 12 hours after signing in
    idle_expires_at: datetime  # ends sooner if nothing happens for 30 minutes
    via: Via
    last_seen_at: datetime | None = None  # as stored: moved at most once a minute
    context_at: datetime | None = None  # when the cached acting-for context was fetched
