"""Tables for the audit trail.

`audit_events` is append-only: the app inserts rows through
`app.audit.service.record` and never updates or deletes them. Each row is
hash-chained to the one before (see `app.audit.chain`), so a change made
behind the app's back is found by `verify_chain`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Boolean, Dialect, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.audit.types import (
    ACTION_MAX_LENGTH,
    OPAQUE_ID_MAX_LENGTH,
    OUTCOME_MAX_LENGTH,
    RELATIONSHIP_MAX_LENGTH,
    AuditAction,
    AuditOutcome,
)
from app.db import Base, UTCDateTime
from app.gp.types import RelationshipKind

HASH_LENGTH = 64  # SHA-256, lowercase hex

E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A closed enum stored as its text value.

    Plain text rather than a database enum or CHECK constraint, so that adding a
    member needs no migration; only members can be written.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def as_utc(value: datetime) -> datetime:
    """Naive values come back from SQLite, which stores UTC without an offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditRecord(Base):
    """One audited action: who (`actor_id`) did what (`action`) for whom (`patient_id`)."""

    __tablename__ = "audit_events"

    # Assigned by `record` under the chain lock: 1, 2, 3, … with no gaps.
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[AuditAction] = mapped_column(EnumText(AuditAction, ACTION_MAX_LENGTH))
    actor_id: Mapped[str] = mapped_column(String(OPAQUE_ID_MAX_LENGTH))
    patient_id: Mapped[str | None] = mapped_column(String(OPAQUE_ID_MAX_LENGTH))
    on_behalf: Mapped[bool] = mapped_column(Boolean)
    relationship_kind: Mapped[RelationshipKind | None] = mapped_column(
        EnumText(RelationshipKind, RELATIONSHIP_MAX_LENGTH)
    )
    target: Mapped[str | None] = mapped_column(String(OPAQUE_ID_MAX_LENGTH))
    outcome: Mapped[AuditOutcome] = mapped_column(EnumText(AuditOutcome, OUTCOME_MAX_LENGTH))
    previous_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))

    __table_args__ = (
        # "Who has viewed or acted on my record": one patient's entries, newest first.
        Index("ix_audit_events_patient_id_sequence", "patient_id", "sequence"),
    )
