"""Keep each report's text only encrypted; index reports by age, for housekeeping.

Reports already stored are encrypted here with GP_CREDENTIALS_KEY, read from the
environment as the service reads it (`credentials_cipher`): run the release job with
the service's secrets. A database with no reports needs no key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import MultiFernet

from app.auth.credentials import credentials_cipher, decrypt_text, encrypt_text
from app.config import Settings

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CORRECTIONS = sa.table(
    "record_corrections",
    sa.column("id", sa.String),
    sa.column("description", sa.Text),
    sa.column("description_encrypted", sa.Text),
)


def _convert(source: str, target: str, convert: Callable[[MultiFernet, str], str]) -> None:
    """Fill column `target` of every report from its `source`, with the service's key."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(CORRECTIONS.c.id, CORRECTIONS.c[source])).all()
    if not rows:
        return
    cipher = credentials_cipher(Settings())
    for correction_id, value in rows:
        bind.execute(
            CORRECTIONS.update()
            .where(CORRECTIONS.c.id == correction_id)
            .values({target: convert(cipher, value)})
        )


def _decrypt(cipher: MultiFernet, stored: str) -> str:
    return decrypt_text(cipher, stored, what="a report of an inaccuracy")


def upgrade() -> None:
    with op.batch_alter_table("record_corrections") as batch:
        batch.add_column(sa.Column("description_encrypted", sa.Text(), nullable=True))
    _convert("description", "description_encrypted", encrypt_text)
    with op.batch_alter_table("record_corrections") as batch:
        batch.alter_column("description_encrypted", existing_type=sa.Text(), nullable=False)
        batch.drop_column("description")
    op.create_index(op.f("ix_record_corrections_created_at"), "record_corrections", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_record_corrections_created_at"), table_name="record_corrections")
    with op.batch_alter_table("record_corrections") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
    _convert("description_encrypted", "description", _decrypt)
    with op.batch_alter_table("record_corrections") as batch:
        batch.alter_column("description", existing_type=sa.Text(), nullable=False)
        batch.drop_column("description_encrypted")
