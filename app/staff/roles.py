"""Who NHS CIS2 says signed in, and what their national RBAC roles let them do here.

CIS2's userinfo (`nationalrbacaccess` scope) lists the user's roles in
`nhsid_nrbac_roles`, one entry per role at an organisation: `org_code` (the ODS code),
`person_roleid` (this role of this person), `role_code` (the job role's code path, such as
`S8000:G8000:R8000`) and `role_name`. With the `selectedrole` scope, `selected_roleid`
names the one role the user chose for this sign-in. `nhsid_useruid` is the user's CIS2
id (the same as `sub`), `name` their display name.

Authorisation comes from these roles at the practice's ODS code (`roles_at`): a role
code the mapping below does not name allows nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.auth.problems import LoginFailed
from app.staff.types import StaffRole

# National RBAC job role codes (the R codes of the national RBAC database) and what each
# may do with applications for access. Kept small on purpose: the RCGP toolkit asks for a
# clinician's review of the record, and any trained member of the practice team may check
# identity and confirm that access was set. Every other code allows nothing here.
ROLE_CODES: Mapping[str, StaffRole] = {
    "R8000": StaffRole.CLINICIAN,  # Clinical Practitioner Access Role (GPs and the like)
    "R0260": StaffRole.CLINICIAN,  # General Medical Practitioner
    "R0270": StaffRole.CLINICIAN,  # Salaried General Practitioner
    "R8001": StaffRole.ADMINISTRATOR,  # Nurse Access Role
    "R8003": StaffRole.ADMINISTRATOR,  # Health Professional Access Role
    "R8008": StaffRole.ADMINISTRATOR,  # Admin/Clinical Support Access Role
    "R8010": StaffRole.ADMINISTRATOR,  # Clerical Access Role (reception)
}

_ROLE_CODE = re.compile(r"R\d{4}")
_ORG_CODE = re.compile(r"[A-Z0-9]{3,10}")
MAX_ROLES = 100  # more than anyone holds: a longer list is refused, not stored
MAX_TEXT = 255


@dataclass(frozen=True, slots=True)
class NationalRole:
    """One of the user's national RBAC roles, at one organisation."""

    org_code: str
    role_code: str  # the job role's R code, e.g. R8000
    role_id: str  # CIS2's person_roleid

    def as_json(self) -> dict[str, str]:
        return {"org_code": self.org_code, "role_code": self.role_code, "role_id": self.role_id}


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """Who NHS CIS2 says signed in, from a verified ID token and matching userinfo."""

    user_id: str
    name: str
    roles: tuple[NationalRole, ...]
    acr: str


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip() and len(value.strip()) <= MAX_TEXT:
        return value.strip()
    return None


def _job_role_code(role_code: str) -> str | None:
    """The R code of a `role_code` path (`S8000:G8000:R8000`), or of a bare `R8000`."""
    last = role_code.rsplit(":", 1)[-1].strip()
    return last if _ROLE_CODE.fullmatch(last) else None


def national_roles(userinfo: Mapping[str, Any]) -> tuple[NationalRole, ...]:
    """The roles in `nhsid_nrbac_roles` that are well formed; only the selected one when
    CIS2 names a `selected_roleid` (the user acts in the role they chose)."""
    raw = userinfo.get("nhsid_nrbac_roles")
    if not isinstance(raw, list) or len(raw) > MAX_ROLES:
        return ()
    roles: list[NationalRole] = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        org_code = (_text(entry.get("org_code")) or "").upper()
        code = _job_role_code(_text(entry.get("role_code")) or "")
        role_id = _text(entry.get("person_roleid"))
        if _ORG_CODE.fullmatch(org_code) and code and role_id:
            roles.append(NationalRole(org_code, code, role_id))
    selected = _text(userinfo.get("selected_roleid"))
    if selected is not None:
        return tuple(role for role in roles if role.role_id == selected)
    return tuple(roles)


def staff_identity(claims: Mapping[str, Any], userinfo: Mapping[str, Any]) -> StaffIdentity:
    """Who signed in, from checked ID token claims and the userinfo with the same `sub`."""
    sub = _text(claims.get("sub"))
    if sub is None:
        raise LoginFailed()
    # nhsid_useruid is CIS2's user id; where sent it must be the subject itself.
    uid = _text(userinfo.get("nhsid_useruid"))
    if uid is not None and uid != sub:
        raise LoginFailed()
    given, family = _text(userinfo.get("given_name")), _text(userinfo.get("family_name"))
    name = _text(userinfo.get("name")) or " ".join(n for n in (given, family) if n) or sub
    return StaffIdentity(
        user_id=sub, name=name, roles=national_roles(userinfo), acr=str(claims.get("acr", ""))
    )


def roles_at(roles: Iterable[NationalRole], ods_code: str) -> frozenset[StaffRole]:
    """What the roles held at `ods_code` allow there (nothing, for roles elsewhere)."""
    return frozenset(
        ROLE_CODES[role.role_code]
        for role in roles
        if role.org_code == ods_code and role.role_code in ROLE_CODES
    )


def roles_to_json(roles: Iterable[NationalRole]) -> str:
    return json.dumps([role.as_json() for role in roles], separators=(",", ":"))


def roles_from_json(stored: str) -> tuple[NationalRole, ...]:
    return tuple(NationalRole(**entry) for entry in json.loads(stored))
