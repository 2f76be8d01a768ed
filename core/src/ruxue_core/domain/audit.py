"""The audit log table: append-only, each row carrying the previous row's hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ruxue_core.domain.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One audited action. ``hash`` = SHA-256 over ``prev_hash`` and the row's canonical JSON."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=128, description="principal id")
    role: str = Field(max_length=32)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(unique=True, max_length=64)
