"""Corrections to the GP record reported through the app.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_corrections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("section", sa.String(length=20), nullable=True),
        sa.Column("entry_id", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gp_message_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_corrections")),
    )
    op.create_index(
        "ix_record_corrections_patient", "record_corrections", ["patient_id", "account_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_record_corrections_patient", table_name="record_corrections")
    op.drop_table("record_corrections")
