"""Applications for more access, and the ordered events of their changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("applicant_account_id", sa.String(length=64), nullable=False),
        sa.Column("applicant_patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("competence_assessment_needed", sa.Boolean(), nullable=False),
        sa.Column("details_encrypted", sa.Text(), nullable=False),
        sa.Column("identity_method", sa.String(length=40), nullable=True),
        sa.Column("identity_checked_by", sa.String(length=128), nullable=True),
        sa.Column("identity_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_outcome", sa.String(length=40), nullable=True),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note_encrypted", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_by", sa.String(length=40), nullable=True),
        sa.Column("rejection_reason_encrypted", sa.Text(), nullable=True),
        sa.Column("to_apply_in_clinical_system", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_index(
        "ix_access_requests_applicant",
        "access_requests",
        ["applicant_account_id", "created_at"],
    )
    op.create_index("ix_access_requests_patient", "access_requests", ["patient_id", "status"])
    op.create_index(
        "ix_access_requests_practice", "access_requests", ["ods_code", "status", "created_at"]
    )
    op.create_index(op.f("ix_access_requests_closed_at"), "access_requests", ["closed_at"])
    op.create_table(
        "access_request_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_access_request_events_request_id_access_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_request_events")),
        sa.UniqueConstraint(
            "request_id", "position", name=op.f("uq_access_request_events_request_id")
        ),
    )
    op.create_index(
        op.f("ix_access_request_events_request_id"), "access_request_events", ["request_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_access_request_events_request_id"), table_name="access_request_events")
    op.drop_table("access_request_events")
    op.drop_index(op.f("ix_access_requests_closed_at"), table_name="access_requests")
    op.drop_index("ix_access_requests_practice", table_name="access_requests")
    op.drop_index("ix_access_requests_patient", table_name="access_requests")
    op.drop_index("ix_access_requests_applicant", table_name="access_requests")
    op.drop_table("access_requests")
