"""Baseline: the sandbox tables as `create_all` made them before the sandbox had migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_meta",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sandbox_meta")),
    )
    op.create_table(
        "sandbox_pharmacies",
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("ods_code", name=op.f("pk_sandbox_pharmacies")),
    )
    op.create_table(
        "sandbox_practices",
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("profile", sa.String(length=20), nullable=False),
        sa.Column("appointments_enabled", sa.Boolean(), nullable=False),
        sa.Column("prescriptions_enabled", sa.Boolean(), nullable=False),
        sa.Column("record_enabled", sa.Boolean(), nullable=False),
        sa.Column("booking_reason", sa.String(length=20), nullable=False),
        sa.Column("booking_reason_max_length", sa.Integer(), nullable=False),
        sa.Column("max_future_appointments", sa.Integer(), nullable=False),
        sa.Column("booking_window_days", sa.Integer(), nullable=False),
        sa.Column("default_search_days", sa.Integer(), nullable=False),
        sa.Column("cancellation_cutoff_minutes", sa.Integer(), nullable=False),
        sa.Column("max_prescription_items", sa.Integer(), nullable=False),
        sa.Column("prescription_note_max_length", sa.Integer(), nullable=False),
        sa.Column("minimum_reorder_days", sa.Integer(), nullable=False),
        sa.Column("prescription_note_required", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("ods_code", name=op.f("pk_sandbox_practices")),
    )
    op.create_table(
        "sandbox_cancellation_reasons",
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["ods_code"],
            ["sandbox_practices.ods_code"],
            name=op.f("fk_sandbox_cancellation_reasons_ods_code_sandbox_practices"),
        ),
        sa.PrimaryKeyConstraint("ods_code", "code", name=op.f("pk_sandbox_cancellation_reasons")),
    )
    op.create_table(
        "sandbox_patients",
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("tags", sa.String(length=300), nullable=False),
        sa.Column("online_account", sa.Boolean(), nullable=False),
        sa.Column("identity_level", sa.String(length=4), nullable=True),
        sa.Column("gp_user_id", sa.String(length=40), nullable=True),
        sa.Column("gp_linkage_key", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone_number", sa.String(length=20), nullable=True),
        sa.Column("record_summary", sa.Boolean(), nullable=False),
        sa.Column("record_detailed_coded", sa.Boolean(), nullable=False),
        sa.Column("prospective_from", sa.Date(), nullable=True),
        sa.Column("historic_access", sa.Boolean(), nullable=False),
        sa.Column("unavailable_sections", sa.String(length=200), nullable=False),
        sa.Column("declined", sa.Boolean(), nullable=False),
        sa.Column("enhanced_review", sa.Boolean(), nullable=False),
        sa.Column("nominated_pharmacy", sa.String(length=10), nullable=True),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["nominated_pharmacy"],
            ["sandbox_pharmacies.ods_code"],
            name=op.f("fk_sandbox_patients_nominated_pharmacy_sandbox_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["ods_code"],
            ["sandbox_practices.ods_code"],
            name=op.f("fk_sandbox_patients_ods_code_sandbox_practices"),
        ),
        sa.PrimaryKeyConstraint("patient_ref", name=op.f("pk_sandbox_patients")),
        sa.UniqueConstraint("gp_user_id", name=op.f("uq_sandbox_patients_gp_user_id")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_sandbox_patients_nhs_number")),
    )
    op.create_table(
        "sandbox_slots",
        sa.Column("slot_id", sa.String(length=60), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("clinician_name", sa.String(length=100), nullable=False),
        sa.Column("clinician_role", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["ods_code"],
            ["sandbox_practices.ods_code"],
            name=op.f("fk_sandbox_slots_ods_code_sandbox_practices"),
        ),
        sa.PrimaryKeyConstraint("slot_id", name=op.f("pk_sandbox_slots")),
    )
    op.create_index(
        "ix_sandbox_slots_ods_code_start", "sandbox_slots", ["ods_code", "start"], unique=False
    )
    op.create_table(
        "sandbox_appointments",
        sa.Column("appointment_id", sa.String(length=60), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("slot_id", sa.String(length=60), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("clinician_name", sa.String(length=100), nullable=False),
        sa.Column("clinician_role", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("telephone_number", sa.String(length=20), nullable=True),
        sa.Column("booked_by_ref", sa.String(length=40), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ods_code"],
            ["sandbox_practices.ods_code"],
            name=op.f("fk_sandbox_appointments_ods_code_sandbox_practices"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_appointments_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_sandbox_appointments")),
    )
    op.create_index(
        "ix_sandbox_appointments_patient_ref", "sandbox_appointments", ["patient_ref"], unique=False
    )
    op.create_table(
        "sandbox_courses",
        sa.Column("course_id", sa.String(length=60), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dosage", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("last_issued_on", sa.Date(), nullable=True),
        sa.Column("review_due_on", sa.Date(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("third_party", sa.Boolean(), nullable=False),
        sa.Column("harmful", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_courses_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_sandbox_courses")),
    )
    op.create_table(
        "sandbox_documents",
        sa.Column("document_id", sa.String(length=60), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("third_party", sa.Boolean(), nullable=False),
        sa.Column("harmful", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_documents_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_sandbox_documents")),
    )
    op.create_table(
        "sandbox_messages",
        sa.Column("message_id", sa.String(length=60), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actor_ref", sa.String(length=40), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_messages_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_sandbox_messages")),
    )
    op.create_table(
        "sandbox_prescription_requests",
        sa.Column("request_id", sa.String(length=60), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("requested_by_ref", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_prescription_requests_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_sandbox_prescription_requests")),
    )
    op.create_table(
        "sandbox_record_entries",
        sa.Column("entry_id", sa.String(length=60), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("section", sa.String(length=20), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("result_text", sa.String(length=100), nullable=True),
        sa.Column("result_number", sa.Float(), nullable=True),
        sa.Column("result_unit", sa.String(length=40), nullable=True),
        sa.Column("range_low", sa.Float(), nullable=True),
        sa.Column("range_high", sa.Float(), nullable=True),
        sa.Column("range_text", sa.String(length=100), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("third_party", sa.Boolean(), nullable=False),
        sa.Column("harmful", sa.Boolean(), nullable=False),
        sa.Column("filed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_record_entries_patient_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_sandbox_record_entries")),
    )
    op.create_index(
        "ix_sandbox_record_entries_patient_ref",
        "sandbox_record_entries",
        ["patient_ref", "section"],
        unique=False,
    )
    op.create_table(
        "sandbox_relationships",
        sa.Column("user_ref", sa.String(length=40), nullable=False),
        sa.Column("patient_ref", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("appointments", sa.Boolean(), nullable=False),
        sa.Column("prescriptions", sa.Boolean(), nullable=False),
        sa.Column("record_level", sa.String(length=20), nullable=False),
        sa.Column("record_from", sa.Date(), nullable=True),
        sa.Column("record_historic", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("review_recorded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_relationships_patient_ref_sandbox_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["user_ref"],
            ["sandbox_patients.patient_ref"],
            name=op.f("fk_sandbox_relationships_user_ref_sandbox_patients"),
        ),
        sa.PrimaryKeyConstraint("user_ref", "patient_ref", name=op.f("pk_sandbox_relationships")),
    )
    op.create_table(
        "sandbox_prescription_request_items",
        sa.Column("request_id", sa.String(length=60), nullable=False),
        sa.Column("course_id", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["sandbox_courses.course_id"],
            name=op.f("fk_sandbox_prescription_request_items_course_id_sandbox_courses"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sandbox_prescription_requests.request_id"],
            name=op.f(
                "fk_sandbox_prescription_request_items_request_id_sandbox_prescription_requests"
            ),
        ),
        sa.PrimaryKeyConstraint(
            "request_id", "course_id", name=op.f("pk_sandbox_prescription_request_items")
        ),
    )


def downgrade() -> None:
    op.drop_table("sandbox_prescription_request_items")
    op.drop_table("sandbox_relationships")
    op.drop_index("ix_sandbox_record_entries_patient_ref", table_name="sandbox_record_entries")
    op.drop_table("sandbox_record_entries")
    op.drop_table("sandbox_prescription_requests")
    op.drop_table("sandbox_messages")
    op.drop_table("sandbox_documents")
    op.drop_table("sandbox_courses")
    op.drop_index("ix_sandbox_appointments_patient_ref", table_name="sandbox_appointments")
    op.drop_table("sandbox_appointments")
    op.drop_index("ix_sandbox_slots_ods_code_start", table_name="sandbox_slots")
    op.drop_table("sandbox_slots")
    op.drop_table("sandbox_patients")
    op.drop_table("sandbox_cancellation_reasons")
    op.drop_table("sandbox_practices")
    op.drop_table("sandbox_pharmacies")
    op.drop_table("sandbox_meta")
