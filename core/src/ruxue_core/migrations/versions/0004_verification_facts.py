"""verification proves facts: consent (授权核对), assessments, evidence's consent reference

Revision ID: 0004_verification
Revises: 0003_platform
Create Date: 2026-11-30 18:30:00.000000

- ``consent``: the family's authorisation to check its data, one per application, captured
  at submission; its ``ref`` goes with every check and into the evidence.
- ``assessment``: what the season's rules concluded from a verification round (category,
  proven address, zoned schools, materials still needed, what to correct).
- ``evidence.consent_ref``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types

revision: str = "0004_verification"
down_revision: str | None = "0003_platform"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        _text("ref", 32),
        _text("subjects", 32),
        _text("statement", 32),
        sa.Column(
            "channel",
            sa.Enum("online", "counter", name="channel", native_enum=False, length=32),
            nullable=False,
        ),
        _text("recorded_by", 128),
        sa.Column("given_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
        sa.UniqueConstraint("ref"),
    )
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        _text("decision", 24),
        _text("reason_code", 32),
        _text("reason", 200),
        _text("category", 16, nullable=True),
        _text("category_name", 50, nullable=True),
        _text("address_proven_by", 32, nullable=True),
        sa.Column("schools", sa.JSON(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("corrections", sa.JSON(), nullable=False),
        sa.Column("assessed_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessment") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessment_application_id"), ["application_id"], unique=False
        )
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.add_column(_text("consent_ref", 32, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.drop_column("consent_ref")
    with op.batch_alter_table("assessment") as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_application_id"))
    op.drop_table("assessment")
    op.drop_table("consent")
