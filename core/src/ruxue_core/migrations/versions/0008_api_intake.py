"""intake: guardians' drafts and manual verification records

Revision ID: 0008_api_intake
Revises: 0007_material_uploads
Create Date: 2026-11-30 21:40:00.000000

- ``application_draft``: a guardian's unfinished application, encrypted, linked to the
  application once submitted.
- ``manual_verification``: which facts a reviewer confirmed from which original paper.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types

revision: str = "0008_api_intake"
down_revision: str | None = "0007_material_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "application_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_idx", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("season_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("data_ct", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("created_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("application_draft") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_draft_owner_idx"), ["owner_idx"], unique=False
        )
    op.create_table(
        "manual_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("confirmations", sa.JSON(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("manual_verification") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manual_verification_application_id"), ["application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("manual_verification") as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_verification_application_id"))
    op.drop_table("manual_verification")
    with op.batch_alter_table("application_draft") as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_draft_owner_idx"))
    op.drop_table("application_draft")
