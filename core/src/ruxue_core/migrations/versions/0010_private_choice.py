"""private choice: the private school a guardian chose (公民同招)

Revision ID: 0010_private_choice
Revises: 0009_placement
Create Date: 2026-12-01 02:50:00.000000

- ``application.private_school_id``: the private school of the season's ``[[placement.private]]``
  options the guardian chose while registration was open (none: public placement only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_private_choice"
down_revision: str | None = "0009_placement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("application") as batch_op:
        batch_op.add_column(sa.Column("private_school_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_application_private_school_id", "school", ["private_school_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("application") as batch_op:
        batch_op.drop_constraint("fk_application_private_school_id", type_="foreignkey")
        batch_op.drop_column("private_school_id")
