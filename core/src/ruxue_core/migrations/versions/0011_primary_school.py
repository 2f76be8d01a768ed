"""primary school: the primary school a middle-school applicant graduates from (小升初)

Revision ID: 0011_primary_school
Revises: 0010_private_choice
Create Date: 2026-12-01 03:10:00.000000

- ``application.primary_school_code``: declared on a junior season's application; placement
  puts the middle school the season's ``[[feeders]]`` map it to first (对口直升).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011_primary_school"
down_revision: str | None = "0010_private_choice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("application") as batch_op:
        batch_op.add_column(
            sa.Column(
                "primary_school_code",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("application") as batch_op:
        batch_op.drop_column("primary_school_code")
