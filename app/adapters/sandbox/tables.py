"""The simulated GP systems' own tables (prefix `sandbox_`, their own MetaData).

They are not the app's: the app's Alembic ignores the prefix and the app never
queries them. They have their own history (`migrations/`, applied by the
bootstrap), so a change here needs a revision there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app.db import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone), returned timezone-aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("sandbox datetimes must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC)


meta = Table(
    "sandbox_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

pharmacies = Table(
    "sandbox_pharmacies",
    metadata,
    Column("ods_code", String(10), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address", String(300), nullable=False),
)

practices = Table(
    "sandbox_practices",
    metadata,
    Column("ods_code", String(10), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("profile", String(20), nullable=False),
    Column("appointments_enabled", Boolean, nullable=False),
    Column("prescriptions_enabled", Boolean, nullable=False),
    Column("record_enabled", Boolean, nullable=False),
    Column("booking_reason", String(20), nullable=False),
    Column("booking_reason_max_length", Integer, nullable=False),
    Column("max_future_appointments", Integer, nullable=False),
    Column("booking_window_days", Integer, nullable=False),
    Column("default_search_days", Integer, nullable=False),
    Column("cancellation_cutoff_minutes", Integer, nullable=False),
    Column("max_prescription_items", Integer, nullable=False),
    Column("prescription_note_max_length", Integer, nullable=False),
    Column("minimum_reorder_days", Integer, nullable=False),
    Column("prescription_note_required", Boolean, nullable=False, default=False),
)

# Practice-configured cancellation reasons (Vision-like practices).
cancellation_reasons = Table(
    "sandbox_cancellation_reasons",
    metadata,
    Column("ods_code", String(10), ForeignKey("sandbox_practices.ods_code"), primary_key=True),
    Column("code", String(20), primary_key=True),
    Column("text", String(200), nullable=False),
)

patients = Table(
    "sandbox_patients",
    metadata,
    Column("patient_ref", String(40), primary_key=True),
    Column("ods_code", String(10), ForeignKey("sandbox_practices.ods_code"), nullable=False),
    Column("nhs_number", String(10), nullable=False, unique=True),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("tags", String(300), nullable=False),  # space-separated persona tags
    Column("online_account", Boolean, nullable=False),
    Column("identity_level", String(4)),  # NHS login proofing level: P9, P5
    Column("gp_user_id", String(40), unique=True),
    Column("gp_linkage_key", String(40)),
    Column("email", String(200)),
    Column("phone_number", String(20)),
    # Online record access: independent grants (app.gp.types.RecordGrants).
    Column("record_summary", Boolean, nullable=False),
    Column("record_detailed_coded", Boolean, nullable=False),
    Column("prospective_from", Date),  # full record from this date; NULL: no prospective access
    Column("historic_access", Boolean, nullable=False),
    # Record sections the system cannot provide (space-separated), e.g. while in transit.
    Column("unavailable_sections", String(200), nullable=False, default=""),
    Column("declined", Boolean, nullable=False),
    Column("enhanced_review", Boolean, nullable=False),
    Column("nominated_pharmacy", String(10), ForeignKey("sandbox_pharmacies.ods_code")),
    # Bumped at the start of each write for this patient, so that concurrent
    # writes for one patient (booking limit, pending request) take turns.
    Column("lock_version", Integer, nullable=False, default=0),
)

relationships = Table(
    "sandbox_relationships",
    metadata,
    Column("user_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), primary_key=True),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("appointments", Boolean, nullable=False),
    Column("prescriptions", Boolean, nullable=False),
    Column("record_level", String(20), nullable=False),
    Column("record_from", Date),  # a full-record proxy: entries from this date
    Column("record_historic", Boolean, nullable=False, default=False),
    Column("starts_on", Date),
    Column("ends_on", Date),
    Column("review_recorded", Boolean, nullable=False),
)

slots = Table(
    "sandbox_slots",
    metadata,
    Column("slot_id", String(60), primary_key=True),
    Column("ods_code", String(10), ForeignKey("sandbox_practices.ods_code"), nullable=False),
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("type", String(20), nullable=False),
    Column("clinician_name", String(100), nullable=False),
    Column("clinician_role", String(100), nullable=False),
    Column("location", String(200), nullable=False),
    Column("session", String(100), nullable=False),
    Column("status", String(10), nullable=False),  # free | booked
    Index("ix_sandbox_slots_ods_code_start", "ods_code", "start"),
)

appointments = Table(
    "sandbox_appointments",
    metadata,
    Column("appointment_id", String(60), primary_key=True),
    Column("ods_code", String(10), ForeignKey("sandbox_practices.ods_code"), nullable=False),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("slot_id", String(60)),  # past appointments keep no slot
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("type", String(20), nullable=False),
    Column("clinician_name", String(100), nullable=False),
    Column("clinician_role", String(100), nullable=False),
    Column("location", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("telephone_number", String(20)),
    Column("booked_by_ref", String(40)),
    Column("cancellation_reason", String(200)),
    Column("version", Integer, nullable=False),
    Index("ix_sandbox_appointments_patient_ref", "patient_ref"),
)

courses = Table(
    "sandbox_courses",
    metadata,
    Column("course_id", String(60), primary_key=True),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("dosage", String(200), nullable=False),
    Column("quantity", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("last_issued_on", Date),
    Column("review_due_on", Date),
    # The practice's visibility flags, as on record entries; no default: the seed sets each.
    Column("hidden", Boolean, nullable=False),
    Column("third_party", Boolean, nullable=False),
    Column("harmful", Boolean, nullable=False),
)

prescription_requests = Table(
    "sandbox_prescription_requests",
    metadata,
    Column("request_id", String(60), primary_key=True),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("requested_by_ref", String(40), nullable=False),
    Column("note", Text),
    Column("rejection_reason", String(300)),
)

prescription_request_items = Table(
    "sandbox_prescription_request_items",
    metadata,
    Column(
        "request_id",
        String(60),
        ForeignKey("sandbox_prescription_requests.request_id"),
        primary_key=True,
    ),
    Column("course_id", String(60), ForeignKey("sandbox_courses.course_id"), primary_key=True),
    Column("position", Integer, nullable=False),
)

record_entries = Table(
    "sandbox_record_entries",
    metadata,
    Column("entry_id", String(60), primary_key=True),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("section", String(20), nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("term", String(200), nullable=False),
    Column("code", String(20)),
    Column("detail", Text),
    Column("result_text", String(100)),
    Column("result_number", Float),
    Column("result_unit", String(40)),
    Column("range_low", Float),
    Column("range_high", Float),
    Column("range_text", String(100)),
    Column("hidden", Boolean, nullable=False),
    Column("third_party", Boolean, nullable=False),
    Column("harmful", Boolean, nullable=False),
    Column("filed", Boolean, nullable=False),
    Index("ix_sandbox_record_entries_patient_ref", "patient_ref", "section"),
)

documents = Table(
    "sandbox_documents",
    metadata,
    Column("document_id", String(60), primary_key=True),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("hidden", Boolean, nullable=False),
    Column("third_party", Boolean, nullable=False),
    Column("harmful", Boolean, nullable=False),
)

messages = Table(
    "sandbox_messages",
    metadata,
    Column("message_id", String(60), primary_key=True),
    Column("ods_code", String(10), nullable=False),
    Column("patient_ref", String(40), ForeignKey("sandbox_patients.patient_ref"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("actor_ref", String(40), nullable=False),
    Column("attributes", Text, nullable=False),  # JSON object
    Column("received_at", UTCDateTime, nullable=False),
)
