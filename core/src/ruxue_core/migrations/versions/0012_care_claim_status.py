"""care claim status: a guardian declares a policy-care kind, the bureau confirms or rejects it

Revision ID: 0012_care_claim_status
Revises: 0011_primary_school
Create Date: 2026-12-01 03:30:00.000000

- ``care_claim.status``: ``declared`` (by the guardian or the counter), ``confirmed`` or
  ``rejected`` (by the bureau). Rows written before were recorded by the bureau: confirmed.
  Placement honours confirmed claims only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012_care_claim_status"
down_revision: str | None = "0011_primary_school"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("care_claim") as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="confirmed",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("care_claim") as batch_op:
        batch_op.drop_column("status")
