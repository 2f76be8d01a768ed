"""placement: lottery commitments, placement runs and results, admissions, care claims

Revision ID: 0009_placement
Revises: 0008_api_intake
Create Date: 2026-11-30 21:18:40.675982

Self-contained: only new tables (lottery_draw, placement_run, placement_result, admission,
care_claim), no change to existing ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


import ruxue_core.domain.types

revision: str = "0009_placement"
down_revision: str | None = "0008_api_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lottery_draw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("commitment", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("committed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("committed_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("revealed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("revealed_at", ruxue_core.domain.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["season.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("season_id"),
    )
    op.create_table(
        "placement_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("seed_commitment", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("published_at", ruxue_core.domain.types.UTCDateTime(), nullable=True),
        sa.Column("published_key", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["season.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("published_key"),
    )
    with op.batch_alter_table("placement_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placement_run_season_id"), ["season_id"], unique=False)

    op.create_table(
        "admission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("notice_no", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("admitted_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("enrolled_at", ruxue_core.domain.types.UTCDateTime(), nullable=True),
        sa.Column("no_show_at", ruxue_core.domain.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["placement_run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["school.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
        sa.UniqueConstraint("notice_no"),
    )
    with op.batch_alter_table("admission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admission_school_id"), ["school_id"], unique=False)

    op.create_table(
        "care_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("recorded_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_table(
        "placement_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("receipt_no", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("school_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("reserved", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("lottery_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["placement_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "application_id", name="uq_placement_result_app"),
    )
    with op.batch_alter_table("placement_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_placement_result_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_placement_result_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("placement_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_placement_result_run_id"))
        batch_op.drop_index(batch_op.f("ix_placement_result_application_id"))

    op.drop_table("placement_result")
    op.drop_table("care_claim")
    with op.batch_alter_table("admission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admission_school_id"))

    op.drop_table("admission")
    with op.batch_alter_table("placement_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_placement_run_season_id"))

    op.drop_table("placement_run")
    op.drop_table("lottery_draw")
