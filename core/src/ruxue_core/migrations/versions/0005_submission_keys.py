"""submission keys: a retried submission with the same idempotency key gets its first answer

Revision ID: 0005_submission_keys
Revises: 0004_verification
Create Date: 2026-11-30 18:45:00.000000

- ``submission_key``: a keyed hash of (who submitted, the client's key), the submitted
  form's keyed fingerprint and the application it created.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types

revision: str = "0005_submission_keys"
down_revision: str | None = "0004_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_key",
        sa.Column("key_idx", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("created_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("key_idx"),
    )
    with op.batch_alter_table("submission_key") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_key_application_id"), ["application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_key") as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_key_application_id"))
    op.drop_table("submission_key")
