"""Signing in and out: accounts, GP linkage and sessions. No HTTP here.

NHS login has no session or logout of its own: this service owns the session,
re-authenticating after 30 minutes idle and 12 hours in total.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

from cryptography.fernet import MultiFernet
from sqlalchemy import ColumnElement, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import record
from app.audit.types import AuditAction, AuditEvent
from app.auth.credentials import encrypt_credentials, encrypt_text
from app.auth.models import Account, AuthSession, SessionContext
from app.auth.nhs_login_tokens import presenting
from app.auth.oidc import NHSLoginIdentity
from app.auth.problems import NotSignedIn, SessionExpired
from app.auth.types import IdentityLevel, SignedIn, Via
from app.clock import Clock
from app.config import Settings
from app.gp.errors import GPError, LinkageFailed, LinkageMethodUnsupported
from app.gp.registry import GPSystemRegistry
from app.gp.types import DemographicMatch, LinkedUser
from app.metrics import SESSIONS_CREATED

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 bits of randomness per session token
# Reading a session is not a write: activity moves the stored idle timer at most this
# often, so the 30-minute idle rule holds to the minute.
TOUCH_INTERVAL = timedelta(minutes=1)
# A session that ends takes its NHS login tokens with it: nothing can use them after.
FORGET_NHS_LOGIN_TOKENS = {
    "nhs_login_id_token_encrypted": None,
    "nhs_login_id_token_expires_at": None,
    "nhs_login_refresh_token_encrypted": None,
}


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta
    max_live: int = 5  # live sessions per account; a new one past it ends the oldest

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
            max_live=settings.max_sessions_per_account,
        )


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str = field(repr=False)
    signed_in: SignedIn


def hash_token(token: str) -> str:
    """Only this hash is stored: a database leak yields no usable session."""
    return hashlib.sha256(token.encode()).hexdigest()


async def link_patient(registry: GPSystemRegistry, identity: NHSLoginIdentity) -> LinkedUser | None:
    """Find the user in their practice's GP system: GP credentials, else demographics.

    P9 users must be linked, so a failure is raised. P5 and P0 users have no GP
    credentials and may not be found by demographics; they sign in unlinked.
    """
    required = identity.identity_level == "P9"
    own_token = identity.id_token if required else None
    try:
        with presenting(identity.nhs_number, own_token):
            return await _link(registry, identity, required=required)
    except GPError as error:
        if required:
            raise
        logger.info("signed in without GP linkage (%s)", error.code)
    return None


async def _link(
    registry: GPSystemRegistry, identity: NHSLoginIdentity, *, required: bool
) -> LinkedUser | None:
    if identity.gp_credentials is not None:
        system = registry.for_practice(identity.gp_credentials.ods_code)
        try:
            return await system.link_by_credentials(identity.gp_credentials)
        except LinkageMethodUnsupported:
            pass  # e.g. GP Connect: fall back to NHS number + demographics
    if identity.ods_code and identity.nhs_number and identity.family_name and identity.birth_date:
        match = DemographicMatch(
            nhs_number=identity.nhs_number,
            ods_code=identity.ods_code,
            family_name=identity.family_name,
            birth_date=identity.birth_date,
        )
        return await registry.for_practice(identity.ods_code).link_by_demographics(match)
    if required:
        raise LinkageFailed()
    return None


async def sign_in(
    db: AsyncSession,
    identity: NHSLoginIdentity,
    *,
    registry: GPSystemRegistry,
    cipher: MultiFernet,
    clock: Clock,
    policy: SessionPolicy,
    via: Via,
) -> IssuedSession:
    """Link, upsert the account and start a new session (never reuse one: fixation)."""
    linked = await link_patient(registry, identity)
    now = clock.now()
    try:
        account = await _upsert_account(db, identity, linked, cipher, now)
    except IntegrityError:
        # Two first sign-ins for the same person at once: the other one created the row.
        await db.rollback()
        account = await _upsert_account(db, identity, linked, cipher, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = AuthSession(
        id=str(uuid.uuid4()),
        account_id=account.id,
        token_hash=hash_token(token),
        via=via,
        identity_level=identity.identity_level,
        vot=identity.vot,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        revoked_at=None,
    )
    if identity.id_token is not None and identity.identity_level == "P9":
        row.nhs_login_id_token_encrypted = encrypt_text(cipher, identity.id_token)
        row.nhs_login_id_token_expires_at = identity.id_token_expires_at
        if identity.refresh_token is not None:
            row.nhs_login_refresh_token_encrypted = encrypt_text(cipher, identity.refresh_token)
    db.add(row)
    await db.flush()
    await _end_oldest_sessions(db, row, policy=policy, clock=clock)
    await record(db, AuditEvent(action=AuditAction.SIGN_IN, actor_id=account.id), clock=clock)
    await db.commit()
    SESSIONS_CREATED.labels(via).inc()
    logger.info("signed in: account %s, level %s, via %s", account.id, row.identity_level, via)
    return IssuedSession(
        token=token,
        signed_in=_signed_in(row, account, policy, session_id=row.id, account_id=account.id),
    )


async def _end_oldest_sessions(
    db: AsyncSession, new: AuthSession, *, policy: SessionPolicy, clock: Clock
) -> None:
    """Keep at most `policy.max_live` live sessions per account (the new one among them):
    the oldest others are revoked, each with an audit row."""
    account_id, now = new.account_id, new.created_at
    live = (
        await db.scalars(
            select(AuthSession.id)
            .where(
                AuthSession.account_id == account_id,
                AuthSession.id != new.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.last_seen_at > now - policy.idle,
            )
            .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
            .offset(policy.max_live - 1)
        )
    ).all()
    if not live:
        return
    await db.execute(
        update(AuthSession)
        .where(AuthSession.id.in_(live))
        .values(revoked_at=now, **FORGET_NHS_LOGIN_TOKENS)
    )
    # Their cached acting-for context goes with them, as on sign-out.
    await db.execute(delete(SessionContext).where(SessionContext.session_id.in_(live)))
    for _ in live:
        await record(
            db, AuditEvent(action=AuditAction.SESSION_REVOKED, actor_id=account_id), clock=clock
        )
    logger.info("ended %d oldest session(s) of account %s", len(live), account_id)


async def _upsert_account(
    db: AsyncSession,
    identity: NHSLoginIdentity,
    linked: LinkedUser | None,
    cipher: MultiFernet,
    now: datetime,
) -> Account:
    account = await db.scalar(select(Account).where(Account.nhs_login_sub == identity.sub))
    if account is None:
        account = Account(id=str(uuid.uuid4()), nhs_login_sub=identity.sub, created_at=now)
        db.add(account)
    # The account mirrors the latest sign-in: NHS login is the source of these facts.
    account.nhs_number = identity.nhs_number
    account.identity_level = identity.identity_level
    account.ods_code = linked.ods_code if linked else identity.ods_code
    account.gp_user_ref = linked.user_ref if linked else None
    account.gp_credentials_encrypted = (
        encrypt_credentials(cipher, identity.gp_credentials) if identity.gp_credentials else None
    )
    account.last_signed_in_at = now
    await db.flush()
    return account


# Built once: the lookup runs on every signed-in request, and building a statement
# costs more CPU than running it. Plain columns, not ORM entities: nothing to track.
_sessions = AuthSession.__table__.c
_accounts = Account.__table__.c
_contexts = SessionContext.__table__.c
FIND_SESSION = (
    select(
        _sessions.id,
        _sessions.via,
        _sessions.identity_level,
        _sessions.expires_at,
        _sessions.last_seen_at,
        _sessions.revoked_at,
        _accounts.id.label("account_id"),
        _accounts.nhs_login_sub,
        _accounts.nhs_number,
        _accounts.ods_code,
        _accounts.gp_user_ref,
        _contexts.fetched_at.label("context_at"),
    )
    .join_from(AuthSession.__table__, Account.__table__, _accounts.id == _sessions.account_id)
    .outerjoin(SessionContext.__table__, _contexts.session_id == _sessions.id)
    .where(_sessions.token_hash == bindparam("token_hash"))
)
TOUCH_SESSION = (
    update(AuthSession)
    .where(_sessions.id == bindparam("session_id"), _sessions.last_seen_at < bindparam("now"))
    .values(last_seen_at=bindparam("now"))
)


async def find_session(
    reader: AsyncEngine, token: str, *, via: Via, now: datetime, policy: SessionPolicy
) -> SignedIn:
    """The live session for this token. Raises `NotSignedIn` or `SessionExpired`.

    One query on an autocommit connection (`reader`, see `app.db.autocommit`): the
    session, its account and the age of its cached acting-for context, with no BEGIN
    or ROLLBACK around it.
    """
    async with reader.connect() as connection:
        result = await connection.execute(FIND_SESSION, {"token_hash": hash_token(token)})
        found = result.first()
    if found is None:
        raise NotSignedIn()
    # A cookie token is not a bearer token and vice versa: each keeps its own protections.
    if found.via != via or found.revoked_at is not None:
        raise NotSignedIn()
    if now >= found.expires_at or now >= found.last_seen_at + policy.idle:
        raise SessionExpired()
    return _signed_in(
        found,
        found,
        policy,
        session_id=found.id,
        account_id=found.account_id,
        context_at=found.context_at,
    )


async def touch_session(
    reader: AsyncEngine, signed_in: SignedIn, *, now: datetime, policy: SessionPolicy
) -> SignedIn:
    """Record activity, which restarts the idle timer (never past the absolute end).

    Writes only when the stored time is a minute old or more, as one autocommitted
    statement: the request holds no connection while it waits on a GP system.
    """
    last_seen = signed_in.last_seen_at
    if last_seen is not None and now - last_seen < TOUCH_INTERVAL:
        return signed_in
    async with reader.connect() as connection:
        await connection.execute(TOUCH_SESSION, {"session_id": signed_in.session_id, "now": now})
    return dataclasses.replace(
        signed_in,
        last_seen_at=now,
        idle_expires_at=min(now + policy.idle, signed_in.expires_at),
    )


async def sign_out(db: AsyncSession, signed_in: SignedIn, *, clock: Clock) -> None:
    """Revoke the session at once; its token is refused from the next request on."""
    await db.execute(
        update(AuthSession)
        .where(AuthSession.id == signed_in.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), **FORGET_NHS_LOGIN_TOKENS)
    )
    await db.execute(
        delete(SessionContext).where(SessionContext.session_id == signed_in.session_id)
    )
    await record(
        db, AuditEvent(action=AuditAction.SIGN_OUT, actor_id=signed_in.account_id), clock=clock
    )
    await db.commit()
    logger.info("signed out: account %s", signed_in.account_id)


async def end_replaced_session(db: AsyncSession, token: str, *, clock: Clock) -> None:
    """Signing in on a browser ends the session it already held (a shared computer)."""
    row = await db.scalar(
        select(AuthSession).where(
            AuthSession.token_hash == hash_token(token), AuthSession.revoked_at.is_(None)
        )
    )
    if row is None:
        return
    row.revoked_at = clock.now()
    for column, value in FORGET_NHS_LOGIN_TOKENS.items():
        setattr(row, column, value)
    await db.execute(delete(SessionContext).where(SessionContext.session_id == row.id))
    await record(db, AuditEvent(action=AuditAction.SIGN_OUT, actor_id=row.account_id), clock=clock)
    await db.commit()


async def prune_sessions(db: AsyncSession, *, now: datetime, idle: timedelta | None = None) -> int:
    """Delete sessions past their absolute end: they can never be used again.

    Sessions that ended sooner (signed out, or idle for `idle`) keep their row until
    then, but not their NHS login tokens."""
    result = await db.execute(delete(AuthSession).where(AuthSession.expires_at < now))
    ended: ColumnElement[bool] = AuthSession.revoked_at.is_not(None)
    if idle is not None:
        ended = or_(ended, AuthSession.last_seen_at <= now - idle)
    await db.execute(
        update(AuthSession)
        .where(
            ended,
            or_(
                AuthSession.nhs_login_id_token_encrypted.is_not(None),
                AuthSession.nhs_login_refresh_token_encrypted.is_not(None),
            ),
        )
        .values(**FORGET_NHS_LOGIN_TOKENS)
    )
    await db.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class _SessionFields(Protocol):
    @property
    def via(self) -> str: ...
    @property
    def identity_level(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...


class _AccountFields(Protocol):
    @property
    def nhs_login_sub(self) -> str: ...
    @property
    def nhs_number(self) -> str | None: ...
    @property
    def ods_code(self) -> str | None: ...
    @property
    def gp_user_ref(self) -> str | None: ...


def _signed_in(
    session: _SessionFields,
    account: _AccountFields,
    policy: SessionPolicy,
    *,
    session_id: str,
    account_id: str,
    context_at: datetime | None = None,
) -> SignedIn:
    """A live session, from the stored rows (at sign-in) or the lookup's one row."""
    return SignedIn(
        session_id=session_id,
        account_id=account_id,
        nhs_login_sub=account.nhs_login_sub,
        nhs_number=account.nhs_number,
        identity_level=cast(IdentityLevel, session.identity_level),
        ods_code=account.ods_code,
        gp_user_ref=account.gp_user_ref,
        expires_at=session.expires_at,
        idle_expires_at=min(session.last_seen_at + policy.idle, session.expires_at),
        via=cast(Via, session.via),
        last_seen_at=session.last_seen_at,
        context_at=context_at,
    )
