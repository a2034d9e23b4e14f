"""Corrections a patient (or their proxy) reported through the app.

The GP system is the source of truth for the record; the app keeps only what
it owns: the report as it was sent, and whether it reached the practice. The
description is free text about someone's health: it is shown back to the
person who wrote it, sent to the practice, and never logged or audited. It is
stored only encrypted (`app.auth.credentials.encrypt_text`), and the whole report
is deleted `RECORD_CORRECTION_RETENTION_DAYS` after it was made
(`python -m app.housekeeping`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.models import EnumText
from app.db import Base, UTCDateTime

DESCRIPTION_MAX_LENGTH = 2000


class CorrectionStatus(StrEnum):
    SENDING = "sending"  # stored, not yet accepted by the GP system
    SENT = "sent"  # the practice's GP system has it
    NOT_SENT = "not_sent"  # the GP system could not take it: the person may try again


class RecordCorrection(Base):
    __tablename__ = "record_corrections"
    __table_args__ = (Index("ix_record_corrections_patient", "patient_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))
    on_behalf: Mapped[bool] = mapped_column(Boolean)
    section: Mapped[str | None] = mapped_column(String(20), nullable=True)
    entry_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    description_encrypted: Mapped[str] = mapped_column(Text)  # Fernet (GP_CREDENTIALS_KEY)
    status: Mapped[CorrectionStatus] = mapped_column(EnumText(CorrectionStatus, 20))
    gp_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
