"""Tables for accounts and sessions.

`accounts` ties an NHS login subject to an NHS number and the GP system's
user ref. `auth_sessions` holds only the SHA-256 hash of each session token;
`session_contexts` the session's cached acting-for context.
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
