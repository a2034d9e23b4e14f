"""Practice staff sessions (NHS CIS2): starting, reading and ending them. No HTTP here.

Kept apart from patients' sessions (`app.auth.service`): their own table, so a patient
token is never found as a staff one nor the other way round. The same limits as
patients' sessions: 30 minutes idle, 12 hours in all (`SessionPolicy`); CIS2 has no
shorter rule for the relying party's own session.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import record
from app.audit.types import AuditAction, AuditEvent
from app.auth.models import StaffSession
from app.auth.service import TOKEN_BYTES, TOUCH_INTERVAL, SessionPolicy, hash_token
from app.clock import Clock
from app.staff.problems import StaffNotSignedIn, StaffSessionExpired
from app.staff.roles import StaffIdentity, roles_at, roles_from_json, roles_to_json
from app.staff.types import StaffMember, StaffSignedIn, StaffVia

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedStaffSession:
    token: str = field(repr=False)
    signed_in: StaffSignedIn


def member_of(user_id: str, name: str, stored_roles: str) -> StaffMember:
    """The staff member, with what their roles allow at each organisation; acting first
    at the organisation of their first role that allows something (until a route's
    `current_staff` names the practice)."""
    roles = roles_from_json(stored_roles)
    practices = {role.org_code: roles_at(roles, role.org_code) for role in roles}
    home = next((code for code, allowed in practices.items() if allowed), "")
    return StaffMember(
        user_id=user_id,
        name=name,
        ods_code=home,
        roles=practices.get(home, frozenset()),
        practices=practices,
    )


def _signed_in(row: StaffSession, policy: SessionPolicy) -> StaffSignedIn:
    via: StaffVia = "cookie" if row.via == "cookie" else "bearer"
    return StaffSignedIn(
        session_id=row.id,
        member=member_of(row.cis2_user_id, row.name, row.roles),
        via=via,
        expires_at=row.expires_at,
        idle_expires_at=min(row.last_seen_at + policy.idle, row.expires_at),
        last_seen_at=row.last_seen_at,
    )


async def sign_in(
    db: AsyncSession,
    identity: StaffIdentity,
    *,
    clock: Clock,
    policy: SessionPolicy,
    via: StaffVia,
) -> IssuedStaffSession:
    """Start a new staff session (never reuse one: fixation), ending the oldest past the
    cap on live sessions per person."""
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = StaffSession(
        id=str(uuid.uuid4()),
        token_hash=hash_token(token),
        via=via,
        cis2_user_id=identity.user_id,
        name=identity.name,
        roles=roles_to_json(identity.roles),
        acr=identity.acr[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        revoked_at=None,
    )
    db.add(row)
    await db.flush()
    await _end_oldest_sessions(db, row, policy=policy)
    signed_in = _signed_in(row, policy)
    actor = signed_in.member.audit_id
    await record(db, AuditEvent(action=AuditAction.SIGN_IN, actor_id=actor), clock=clock)
    await db.commit()
    logger.info("staff signed in: %s, via %s", actor, via)
    return IssuedStaffSession(token=token, signed_in=signed_in)


async def _end_oldest_sessions(
    db: AsyncSession, new: StaffSession, *, policy: SessionPolicy
) -> None:
    now = new.created_at
    live = (
        await db.scalars(
            select(StaffSession.id)
            .where(
                StaffSession.cis2_user_id == new.cis2_user_id,
                StaffSession.id != new.id,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
                StaffSession.last_seen_at > now - policy.idle,
            )
            .order_by(StaffSession.created_at.desc(), StaffSession.id.desc())
            .offset(policy.max_live - 1)
        )
    ).all()
    if live:
        await db.execute(
            update(StaffSession).where(StaffSession.id.in_(live)).values(revoked_at=now)
        )


_staff = StaffSession.__table__.c
FIND_STAFF_SESSION = select(StaffSession.__table__).where(
    _staff.token_hash == bindparam("token_hash")
)
TOUCH_STAFF_SESSION = (
    update(StaffSession)
    .where(_staff.id == bindparam("session_id"), _staff.last_seen_at < bindparam("now"))
    .values(last_seen_at=bindparam("now"))
)


async def find_session(
    reader: AsyncEngine, token: str, *, via: StaffVia, now: datetime, policy: SessionPolicy
) -> StaffSignedIn:
    """The live staff session for this token. Raises `StaffNotSignedIn` (no such staff
    session: a patient's token, a forged one, one signed out) or `StaffSessionExpired`."""
    async with reader.connect() as connection:
        found = await connection.execute(FIND_STAFF_SESSION, {"token_hash": hash_token(token)})
        row = found.first()
    if row is None or row.via != via or row.revoked_at is not None:
        raise StaffNotSignedIn()
    if now >= row.expires_at or now >= row.last_seen_at + policy.idle:
        raise StaffSessionExpired()
    return _signed_in(row, policy)  # type: ignore[arg-type]  # a row has the same fields


async def touch_session(reader: AsyncEngine, signed_in: StaffSignedIn, *, now: datetime) -> None:
    """Restart the idle timer, writing at most once a minute (as for patients)."""
    if now - signed_in.last_seen_at < TOUCH_INTERVAL:
        return
    async with reader.connect() as connection:
        await connection.execute(
            TOUCH_STAFF_SESSION, {"session_id": signed_in.session_id, "now": now}
        )


async def sign_out(db: AsyncSession, token: str, *, clock: Clock) -> bool:
    """End the staff session with this token now, if it is one; True when it was."""
    row = await db.scalar(
        select(StaffSession).where(
            StaffSession.token_hash == hash_token(token), StaffSession.revoked_at.is_(None)
        )
    )
    if row is None:
        return False
    row.revoked_at = clock.now()
    actor = f"cis2:{row.cis2_user_id}"
    await record(db, AuditEvent(action=AuditAction.SIGN_OUT, actor_id=actor), clock=clock)
    await db.commit()
    logger.info("staff signed out: %s", actor)
    return True


async def prune_sessions(db: AsyncSession, *, now: datetime) -> int:
    """Delete staff sessions past their absolute end: they can never be used again."""
    result = await db.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    await db.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
