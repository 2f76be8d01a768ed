"""provincial platform: ordered case records with acknowledgement tracking; guardian sessions

Revision ID: 0003_platform
Revises: 0002
Create Date: 2026-11-30 16:30:00.000000

- Case records are numbered per case (``version`` 1, 2, …: a transition may write several,
  e.g. a process record and a correction pause) and carry the application's version beside;
  ``application.case_seq`` counts them. Existing records were one per application version,
  so their numbers stand.
- A record's push is tracked: its push job (``round``, ``push_key``), when it was sent, when
  its acknowledgement is due and next checked, the platform's reason for a rejection.
  ``pending`` becomes ``queued``.
- ``guardian_session``: guardians' sessions opened by a unified-identity login.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types

revision: str = "0003_platform"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, ruxue_core.domain.types.UTCDateTime(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "guardian_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("id_number_ct", sa.LargeBinary(), nullable=False),
        sa.Column("phone_ct", sa.LargeBinary(), nullable=True),
        sa.Column("assurance_level", sa.Integer(), nullable=False),
        sa.Column("created_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        _when("ended_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guardian_session") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardian_session_expires_at"), ["expires_at"], unique=False
        )

    with op.batch_alter_table("case_record") as batch_op:
        batch_op.add_column(
            sa.Column("application_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("push_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reporter", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        for name in ("scheduled_at", "sent_at", "ack_due_at", "next_check_at"):
            batch_op.add_column(_when(name))
        batch_op.create_index("ix_case_record_status", ["status", "next_check_at"], unique=False)
    op.execute("UPDATE case_record SET application_version = version")
    op.execute("UPDATE case_record SET status = 'queued' WHERE status = 'pending'")

    with op.batch_alter_table("application") as batch_op:
        batch_op.add_column(sa.Column("case_seq", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE application SET case_seq = "
        "(SELECT count(*) FROM case_record WHERE case_record.application_id = application.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("application") as batch_op:
        batch_op.drop_column("case_seq")
    op.execute("UPDATE case_record SET status = 'pending' WHERE status = 'queued'")
    with op.batch_alter_table("case_record") as batch_op:
        batch_op.drop_index("ix_case_record_status")
        for name in (
            "next_check_at",
            "ack_due_at",
            "sent_at",
            "scheduled_at",
            "reason",
            "reporter",
            "push_key",
            "round",
            "application_version",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("guardian_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_guardian_session_expires_at"))
    op.drop_table("guardian_session")
