"""Append-only, hash-chained audit log.

Each row's hash covers the previous row's hash and the row's own canonical JSON, so editing
or deleting any row breaks every later link. Rows are chained at commit time under a lock
(SQLite's single writer; a transaction-scoped advisory lock on PostgreSQL), keeping the
chain linear however many gateways and workers write at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ruxue_core.domain import AuditEvent
from ruxue_core.domain.types import utcnow

GENESIS: Final = "0" * 64
_LOCK_KEY: Final = 0x52555855  # "RUXU"
_VERIFY_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audited action waiting to be chained when its unit of work commits."""

    actor: str
    role: str
    action: str
    entity: str
    entity_id: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)


def row_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 over the previous hash and the row's canonical JSON."""
    body = {
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "data": event.data,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


async def seal(session: AsyncSession, entries: Sequence[AuditEntry], *, postgres: bool) -> None:
    """Chain ``entries`` onto the log inside the caller's transaction (called at commit)."""
    if not entries:
        return
    if postgres:
        connection = await session.connection()
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = (
        await session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1))
    ).first()
    prev = last or GENESIS
    for entry in entries:
        event = AuditEvent(
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            data=entry.data,
            prev_hash=prev,
            hash="",
        )
        event.hash = prev = row_hash(prev, event)
        session.add(event)
    await session.flush()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of walking the chain: rows checked and the first broken row, if any."""

    rows: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the whole chain is intact."""
        return self.broken_at is None


async def verify_chain(session: AsyncSession) -> VerifyReport:
    """Walk the log in order and recompute every link; stop at the first broken one."""
    prev, rows, after = GENESIS, 0, 0
    while True:
        batch = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.id) > after)
                .order_by(col(AuditEvent.id))
                .limit(_VERIFY_BATCH)
            )
        ).all()
        if not batch:
            return VerifyReport(rows=rows)
        for event in batch:
            assert event.id is not None
            if event.prev_hash != prev:
                return VerifyReport(rows, event.id, "上一条记录的哈希不符（记录被删除或插入）")
            if row_hash(prev, event) != event.hash:
                return VerifyReport(rows, event.id, "记录内容与哈希不符（记录被篡改）")
            prev, rows, after = event.hash, rows + 1, event.id
