"""SMS dispatch: sending state, repeats and resends, vendor state, delivery receipts

Revision ID: 0006_sms
Revises: 0005_submission_keys
Create Date: 2026-11-30 18:30:00.000000

- ``message``: ``repeats`` (sent again after a crash left the outcome unknown), ``resends``
  (queued again by staff), ``sending_at`` (when it was handed to a vendor). Statuses gain
  ``sending`` and ``failed`` (stored as strings: no constraint to change).
- ``sms_vendor_state``: each vendor's rate-limiter slot (GCRA) and decaying error counts,
  shared by every worker.
- ``sms_receipt``: delivery receipts as called back, one per (vendor, vendor id, status).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types

revision: str = "0006_sms"
down_revision: str | None = "0005_submission_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("resends", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("sending_at", ruxue_core.domain.types.UTCDateTime(), nullable=True)
        )
    op.create_table(
        "sms_vendor_state",
        _text("name", 64),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("sends", sa.Float(), nullable=False),
        sa.Column("errors", sa.Float(), nullable=False),
        sa.Column("scored_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sms_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("vendor", 64),
        _text("vendor_message_id", 128),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "accepted",
                "delivered",
                "temporary_failure",
                "permanent_failure",
                "failed",
                name="messagestatus",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        _text("vendor_code", 64, nullable=True),
        _text("detail", 200, nullable=True),
        sa.Column("received_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor", "vendor_message_id", "status", name="uq_sms_receipt"),
    )
    with op.batch_alter_table("sms_receipt") as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_receipt_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_receipt") as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_receipt_message_id"))
    op.drop_table("sms_receipt")
    op.drop_table("sms_vendor_state")
    op.execute("UPDATE message SET status = 'queued' WHERE status = 'sending'")
    op.execute("UPDATE message SET status = 'permanent_failure' WHERE status = 'failed'")
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_column("sending_at")
        batch_op.drop_column("resends")
        batch_op.drop_column("repeats")
