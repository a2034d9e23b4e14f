"""Applications for more access, and the ordered events of each one's changes.

An application may hold personal data about someone who is not (yet) anyone the
applicant acts for: the patient's NHS number, name and date of birth, the GP
system's references, a document's reference, the reasons given. All of it is kept
in `details_encrypted` (and the reasons in their own encrypted columns), Fernet with
GP_CREDENTIALS_KEY (`app.auth.credentials.encrypt_text`), as GP credentials are.
The columns in the clear are what the service filters and audits by: opaque ids,
closed enums, dates of the application's own life, and the end date asked for.

`access_request_events` is append-only: one row per change of status, in order
(`position` within the application; `id` across them), for a notification channel to
follow. Both are deleted `ACCESS_REQUEST_RETENTION_DAYS` after an application closed
(`python -m app.housekeeping`); the audit trail keeps who decided what.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.access_requests.workflow import (
    ApplicationKind,
    Basis,
    ClinicalOutcome,
    IdentityMethod,
    RejectedBy,
    Status,
)
from app.audit.models import EnumText
from app.db import Base, UTCDateTime

ENUM_LENGTH = 40


class AccessRequest(Base):
    __tablename__ = "access_requests"
    __table_args__ = (
        Index("ix_access_requests_applicant", "applicant_account_id", "created_at"),
        Index("ix_access_requests_patient", "patient_id", "status"),
        Index("ix_access_requests_practice", "ods_code", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ods_code: Mapped[str] = mapped_column(String(10))  # the practice that decides
    kind: Mapped[ApplicationKind] = mapped_column(EnumText(ApplicationKind, ENUM_LENGTH))
    status: Mapped[Status] = mapped_column(EnumText(Status, ENUM_LENGTH))
    applicant_account_id: Mapped[str] = mapped_column(String(64))
    applicant_patient_id: Mapped[str] = mapped_column(String(64))  # opaque (HMAC) id
    patient_id: Mapped[str] = mapped_column(String(64))  # the patient's opaque id
    basis: Mapped[Basis | None] = mapped_column(EnumText(Basis, ENUM_LENGTH), nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    competence_assessment_needed: Mapped[bool] = mapped_column(Boolean)
    # Fernet (GP_CREDENTIALS_KEY): JSON of the identity and free-text fields.
    details_encrypted: Mapped[str] = mapped_column(Text)
    identity_method: Mapped[IdentityMethod | None] = mapped_column(
        EnumText(IdentityMethod, ENUM_LENGTH), nullable=True
    )
    identity_checked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    identity_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_outcome: Mapped[ClinicalOutcome | None] = mapped_column(
        EnumText(ClinicalOutcome, ENUM_LENGTH), nullable=True
    )
    reviewed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Fernet: the reviewer's note (entries hidden, competence assessed…), never shown out.
    review_note_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rejected_by: Mapped[RejectedBy | None] = mapped_column(
        EnumText(RejectedBy, ENUM_LENGTH), nullable=True
    )
    # Fernet: the reason the applicant is given.
    rejection_reason_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Approved where the GP system cannot apply it: staff set it in the clinical system.
    to_apply_in_clinical_system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    # Bumped by every change: a change is written only over the version it read.
    version: Mapped[int] = mapped_column(Integer)


class AccessRequestEvent(Base):
    """One change of an application's status: appended, never changed."""

    __tablename__ = "access_request_events"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("access_requests.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… within the application
    from_status: Mapped[Status | None] = mapped_column(EnumText(Status, ENUM_LENGTH), nullable=True)
    to_status: Mapped[Status] = mapped_column(EnumText(Status, ENUM_LENGTH))
    actor_role: Mapped[str] = mapped_column(String(20))  # applicant | patient | staff
    actor_id: Mapped[str] = mapped_column(String(128))  # an account id or a staff user id
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
