"""Tables for accounts and sessions.

`accounts` ties an NHS login subject to an NHS number and the GP system's
user ref. `auth_sessions` holds only the SHA-256 hash of each session token;
`session_contexts` the session's cached acting-for context; `staff_sessions` practice
staff's sessions (NHS CIS2), kept apart from patients'.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class Account(Base):
    """One person, as NHS login knows them (by `sub`) and as their GP system knows them."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nhs_login_sub: Mapped[str] = mapped_column(String(255), unique=True)
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    identity_level: Mapped[str] = mapped_column(String(2))
    ods_code: Mapped[str | None] = mapped_column(String(10))
    gp_user_ref: Mapped[str | None] = mapped_column(String(255))
    # NHS login's gp_integration_credentials, Fernet-encrypted (GP_CREDENTIALS_KEY).
    gp_credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_signed_in_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A signed-in session; the token itself is never stored, only its SHA-256 hash."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    via: Mapped[str] = mapped_column(String(6))  # cookie | bearer
    identity_level: Mapped[str] = mapped_column(String(2))
    vot: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The NHS login ID token of this sign-in (P9 only), Fernet-encrypted: exchanged for
    # the patient's access token to GP Connect's patient-facing APIs while it is valid.
    nhs_login_id_token_encrypted: Mapped[str | None] = mapped_column(Text)
    nhs_login_id_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # NHS login's refresh token of this sign-in, when it gave one, encrypted as the ID
    # token is: a fresh ID token for the session's life. Cleared when the session ends.
    nhs_login_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)


class SessionContext(Base):
    """What the GP systems said about a session's user, reused for a short while.

    Written and read by `app.patients.context`; encrypted, and deleted with the session.
    """

    __tablename__ = "session_contexts"

    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("auth_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)  # Fernet token (GP_CREDENTIALS_KEY)


class StaffSession(Base):
    """A practice staff member's session (NHS CIS2), apart from patients' sessions.

    Its own table, so no patient token is ever looked up as a staff one or the other way
    round. Only the token's SHA-256 hash is stored. The roles are CIS2's national RBAC
    roles as signed in (JSON: org_code, role_code, role_id each), mapped to what they
    allow when read (`app.staff.roles`), so a change of that mapping applies at once.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    via: Mapped[str] = mapped_column(String(6))  # cookie | bearer
    cis2_user_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(Text)
    acr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
