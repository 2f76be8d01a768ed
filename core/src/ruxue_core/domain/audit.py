"""The audit log: append-only entries, sequenced into an RFC 6962 Merkle tree with signed heads.

Writers insert entries with their leaf hash and no position, so appending takes no lock; the
sequencer job gives committed entries their positions and signs a new tree head.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One audited action. ``leaf_hash`` = SHA-256(0x00 ‖ the entry's canonical JSON)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=128, description="principal id")
    role: str = Field(max_length=32)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    leaf_hash: str = Field(max_length=64)
    position: int | None = Field(
        default=None, unique=True, description="leaf index in the tree, set by the sequencer"
    )


class AuditHead(SQLModel, table=True):
    """A signed tree head: the root of the first ``tree_size`` leaves, signed with Ed25519."""

    __tablename__ = "audit_head"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(unique=True)
    root_hash: str = Field(max_length=64)
    frontier: list[str] = Field(
        default_factory=list, sa_type=sa.JSON, description="roots of the right-edge subtrees"
    )
    signed_at: datetime = Field(sa_type=UTCDateTime)
    key_id: str = Field(max_length=64, description="SHA-256 of the public key")
    signature: str = Field(max_length=128, description="hex Ed25519 signature")
