"""data path and security: Merkle audit log, encrypted addresses and facts, staff accounts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 14:51:48.152640

- The hash-chained audit log becomes the leaves of an RFC 6962 Merkle tree: each row gets its
  leaf hash (the same canonical JSON the chain hashed) and no position; the sequencer then
  positions them in id order and signs the first tree head. A broken chain is refused.
- Declared addresses and evidence facts are encrypted with the deployment's PII key.
- Wrong query codes are counted per receipt number in ``query_guard``.
- Messages get a stable key, jobs a conflict count, seasons a full age window, staff
  accounts passwords, lockout and session epochs. Pending jobs are rewritten to the new
  payloads.
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import ruxue_core.domain.types
from ruxue_core import keys
from ruxue_core.migrate import SETTINGS_ATTRIBUTE
from ruxue_core.security import PiiCipher
from ruxue_core.settings import Settings

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def _cipher() -> PiiCipher:
    """The deployment's PII cipher: settings passed to ``upgrade``, else from the environment."""
    config = op.get_context().config
    settings = config.attributes.get(SETTINGS_ATTRIBUTE) if config is not None else None
    return PiiCipher(keys.load_key(settings or Settings(), keys.PII_KEY))


def _canonical(row: sa.Row) -> str:  # type: ignore[type-arg]
    """The canonical JSON the old chain hashed (``ruxue_core.audit.canonical``)."""
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    body = {
        "at": at.replace(tzinfo=UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _migrate_audit(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT id, at, actor, role, action, entity, entity_id, data, prev_hash, hash "
            "FROM audit_event ORDER BY id"
        )
    ).all()
    prev = GENESIS
    updates = []
    for row in rows:
        text = _canonical(row)
        linked = hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()
        if row.prev_hash != prev or linked != row.hash:
            raise RuntimeError(
                f"audit chain broken at row {row.id}: run `ruxue audit verify` on the old "
                "version and resolve it before migrating"
            )
        prev = row.hash
        leaf = hashlib.sha256(b"\x00" + text.encode()).hexdigest()
        updates.append({"row_id": row.id, "leaf": leaf})
    if updates:
        bind.execute(
            sa.text("UPDATE audit_event SET leaf_hash = :leaf WHERE id = :row_id"), updates
        )


def _encrypt_column(
    bind: sa.Connection, table: str, source: str, target: str, purpose: str, as_json: bool
) -> None:
    rows = bind.execute(sa.text(f"SELECT id, {source} FROM {table}")).all()  # noqa: S608
    if not rows:
        return
    cipher = _cipher()
    updates = []
    for row_id, value in rows:
        if as_json:
            data = value if isinstance(value, dict) else json.loads(value or "{}")
            blob = cipher.encrypt_json(data, purpose=purpose)
        else:
            blob = cipher.encrypt(value, purpose=purpose)
        updates.append({"row_id": row_id, "blob": blob})
    bind.execute(
        sa.text(f"UPDATE {table} SET {target} = :blob WHERE id = :row_id"),  # noqa: S608
        updates,
    )


def _migrate_jobs(bind: sa.Connection) -> None:
    """Pending notify and case-push jobs point at their rows by the new keys."""
    jobs = bind.execute(
        sa.text("SELECT id, kind, payload FROM job WHERE status IN ('pending', 'running')")
    ).all()
    for job_id, kind, payload in jobs:
        data = payload if isinstance(payload, dict) else json.loads(payload)
        if kind == "notify.send" and "message_id" in data:
            key = bind.execute(
                sa.text("SELECT key FROM message WHERE id = :id"), {"id": data["message_id"]}
            ).scalar_one()
            new = {"message_key": key}
        elif kind == "casesync.push" and "case_record_id" in data:
            receipt_no, version = bind.execute(
                sa.text("SELECT receipt_no, version FROM case_record WHERE id = :id"),
                {"id": data["case_record_id"]},
            ).one()
            new = {"receipt_no": receipt_no, "version": version}
        else:
            continue
        bind.execute(
            sa.text("UPDATE job SET payload = :payload WHERE id = :id"),
            {"payload": json.dumps(new), "id": job_id},
        )


def _season_windows(bind: sa.Connection) -> None:
    for season_id, cutoff in bind.execute(sa.text("SELECT id, age_cutoff FROM season")).all():
        latest = cutoff if isinstance(cutoff, date) else date.fromisoformat(cutoff)
        earliest = latest.replace(year=latest.year - 1) + timedelta(days=1)
        bind.execute(
            sa.text("UPDATE season SET earliest_birth = :earliest WHERE id = :id"),
            {"earliest": earliest, "id": season_id},
        )


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("frontier", sa.JSON(), nullable=False),
        sa.Column("signed_at", ruxue_core.domain.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tree_size"),
    )
    op.create_table(
        "query_guard",
        sa.Column("receipt_no", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", ruxue_core.domain.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("receipt_no"),
    )

    # The audit chain becomes Merkle leaves.
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.add_column(
            sa.Column("leaf_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
    _migrate_audit(bind)
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.alter_column("leaf_hash", nullable=False)
        batch_op.create_unique_constraint("audit_event_position_key", ["position"])
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")

    # Addresses and facts are encrypted.
    with op.batch_alter_table("application") as batch_op:
        batch_op.add_column(sa.Column("address_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("age_exception", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
    _encrypt_column(bind, "application", "address", "address_ct", "application.address", False)
    with op.batch_alter_table("application") as batch_op:
        batch_op.alter_column("address_ct", nullable=False)
        batch_op.drop_column("query_locked_until")
        batch_op.drop_column("address")
        batch_op.drop_column("query_failures")
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.add_column(sa.Column("facts_ct", sa.LargeBinary(), nullable=True))
    _encrypt_column(bind, "evidence", "facts", "facts_ct", "evidence.facts", True)
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.alter_column("facts_ct", nullable=False)
        batch_op.drop_column("facts")

    # Logins bind only through a verified ID number now: earlier bindings are not trusted.
    with op.batch_alter_table("guardian") as batch_op:
        batch_op.add_column(
            sa.Column("bound_at", ruxue_core.domain.types.UTCDateTime(), nullable=True)
        )
        batch_op.drop_index("ix_guardian_subject")
    bind.execute(sa.text("UPDATE guardian SET subject = NULL"))

    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(
            sa.Column("conflicts", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("message") as batch_op:
        batch_op.add_column(
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=True)
        )
    bind.execute(sa.text("UPDATE message SET key = 'legacy:' || CAST(id AS VARCHAR(20))"))
    with op.batch_alter_table("message") as batch_op:
        batch_op.alter_column("key", nullable=False)
        batch_op.create_unique_constraint("message_key_key", ["key"])
    _migrate_jobs(bind)

    with op.batch_alter_table("season") as batch_op:
        batch_op.add_column(sa.Column("earliest_birth", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("deferral_earliest", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("early_entry_latest", sa.Date(), nullable=True))
    _season_windows(bind)
    with op.batch_alter_table("season") as batch_op:
        batch_op.alter_column("earliest_birth", nullable=False)

    with op.batch_alter_table("staff_account") as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_hash",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("locked_until", ruxue_core.domain.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column(
                "created_at",
                ruxue_core.domain.types.UTCDateTime(),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )


def downgrade() -> None:
    raise RuntimeError(
        "0002 re-encrypts data and turns the audit chain into a Merkle log; restore the "
        "backup taken before upgrading instead of downgrading"
    )
