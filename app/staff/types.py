"""What the rest of the app knows about a signed-in member of practice staff."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

StaffVia = Literal["cookie", "bearer"]


class StaffRole(StrEnum):
    """What a staff member may do with applications, from their CIS2 role at the practice."""

    ADMINISTRATOR = "administrator"  # identity checks, confirming access was set
    CLINICIAN = "clinician"  # clinical review; also all an administrator may do


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A signed-in member of practice staff."""

    user_id: str  # the CIS2 user id: opaque, and what audit rows name
    name: str  # display name, for the practice's own screens; never logged
    ods_code: str  # the practice acted at (the path's, once `current_staff` checked it)
    roles: frozenset[StaffRole]  # what their roles allow at `ods_code`
    # Every organisation they hold a national RBAC role at, with what it allows here.
    practices: Mapping[str, frozenset[StaffRole]] = field(default_factory=dict)

    @property
    def audit_id(self) -> str:
        """Who decided, in the audit trail: marked as staff, never mistaken for an account."""
        return f"cis2:{self.user_id}"

    def at(self, ods_code: str) -> StaffMember:
        """The same person acting at `ods_code`, with only what their roles there allow."""
        roles = self.practices.get(ods_code, frozenset())
        if not self.practices and ods_code == self.ods_code:
            roles = self.roles
        return dataclasses.replace(self, ods_code=ods_code, roles=roles)


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    """A live staff session: who, and when it ends."""

    session_id: str
    member: StaffMember
    via: StaffVia
    expires_at: datetime  # absolute end: 12 hours after signing in
    idle_expires_at: datetime  # ends sooner if nothing happens for 30 minutes
    last_seen_at: datetime
