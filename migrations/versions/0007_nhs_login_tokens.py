"""Keep each P9 sign-in's NHS login ID token, encrypted, for the patient-facing APIs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("nhs_login_id_token_encrypted", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("nhs_login_id_token_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("nhs_login_id_token_expires_at")
        batch.drop_column("nhs_login_id_token_encrypted")
