"""The stored outcome of each idempotent request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class IdempotencyRecord(Base):
    """One (account, key) pair: the request's fingerprint and, once done, its response.

    Rows hold response bodies the patient already saw (booking reasons, phone
    numbers): `python -m app.housekeeping` deletes them after `IDEMPOTENCY_TTL`.
    They are never logged.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    location: Mapped[str | None] = mapped_column(String(512), nullable=True)


class ActionLock(Base):
    """A held lock on one kind of action for one patient (`book:<patient id>`), or the
    lease of a request's claim on an Idempotency-Key (`claim:<hash of account and key>`).

    A row exists while a request holds the lock; it is committed before the GP
    system is called, so every worker and instance sees it. `expires_at`, in real
    time, frees the lock of a request that died holding it.
    """

    __tablename__ = "action_locks"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
