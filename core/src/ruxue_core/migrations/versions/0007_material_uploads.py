"""material uploads: who provided each material

Revision ID: 0007_material_uploads
Revises: 0006_sms
Create Date: 2026-11-30 19:45:00.000000

- ``material.uploaded_by``: the principal who uploaded the file or saw the original.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007_material_uploads"
down_revision: str | None = "0006_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("material") as batch_op:
        batch_op.add_column(
            sa.Column(
                "uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("material") as batch_op:
        batch_op.drop_column("uploaded_by")
