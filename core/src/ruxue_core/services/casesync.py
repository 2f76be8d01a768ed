"""Provincial case push, for operators: the reconciliation report and re-pushes.

The report counts, per day a record was written (in ``casesync.timezone``), how many records
are queued (including held), sent and awaiting acknowledgement, acknowledged and rejected,
and how many are **missing**: records the platform should have confirmed by now but has not
(unacknowledged ``casesync.missing_after_seconds`` after they were written), plus records a
case lacks (its record numbers do not run 1…n up to the count its steps wrote).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, func, select

from ruxue_core import casesync
from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Application, CaseRecord
from ruxue_core.domain.enums import CaseRecordStatus, Role
from ruxue_core.errors import InvalidInput
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

REPORT_ROLES: Final = (Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR, Role.SYSTEM)
REPUSH_ROLES: Final = (Role.ADMIN, Role.SYSTEM)
MAX_DAYS: Final = 366


@dataclass(slots=True)
class DayCounts:
    """One day's case records by push state."""

    day: date
    queued: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    missing: int = 0

    @property
    def total(self) -> int:
        """Records written that day."""
        return self.queued + self.sent + self.acknowledged + self.rejected


@dataclass(slots=True)
class CaseSyncReport:
    """The reconciliation report: per day, and the rejected records' reasons."""

    days: list[DayCounts] = field(default_factory=list)
    rejections: list[tuple[str, int, str]] = field(default_factory=list)
    """``(receipt_no, version, reason)`` of rejected records (at most 50)."""

    @property
    def missing(self) -> int:
        """Missing records over all days."""
        return sum(day.missing for day in self.days)


def _day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def build_report(uow: UnitOfWork, *, since: date | None = None) -> CaseSyncReport:
    """The report from ``since`` (a local day) on; every day with records when ``None``."""
    settings = uow.settings.casesync
    zone = ZoneInfo(settings.timezone)
    overdue = uow.now - timedelta(seconds=settings.missing_after_seconds)
    start = datetime.combine(since, datetime.min.time(), tzinfo=zone) if since is not None else None
    rows = uow.session.exec(
        select(CaseRecord.created_at, CaseRecord.status, func.count())
        .where(*([col(CaseRecord.created_at) >= start] if start is not None else []))
        .group_by(col(CaseRecord.created_at), col(CaseRecord.status))
    ).all()
    days: dict[date, DayCounts] = {}
    for created_at, status, count in rows:
        day = days.setdefault(_day(created_at, zone), DayCounts(_day(created_at, zone)))
        state = CaseRecordStatus(status)
        if state is CaseRecordStatus.ACKED:
            day.acknowledged += count
        elif state is CaseRecordStatus.REJECTED:
            day.rejected += count
        elif state is CaseRecordStatus.SENT:
            day.sent += count
        else:
            day.queued += count
        if state in casesync.OPEN and created_at < overdue:
            day.missing += count
    for day_of, lacking in _gaps(uow, start):
        days.setdefault(_day(day_of, zone), DayCounts(_day(day_of, zone))).missing += lacking
    rejections = uow.session.exec(
        select(CaseRecord.receipt_no, CaseRecord.version, CaseRecord.reason)
        .where(col(CaseRecord.status) == CaseRecordStatus.REJECTED)
        .order_by(col(CaseRecord.id))
        .limit(50)
    ).all()
    return CaseSyncReport(
        sorted(days.values(), key=lambda d: d.day),
        [(r, v, reason or "") for r, v, reason in rejections],
    )


def _gaps(uow: UnitOfWork, start: datetime | None) -> list[tuple[datetime, int]]:
    """Cases whose records do not run 1…case_seq: (when the case last changed, how many
    records it lacks). Records are written in the transaction of the step that causes them,
    so this finds only damage (a lost row, a restore from an older backup)."""
    counted = (
        select(
            CaseRecord.application_id,
            func.count().label("n"),
            func.max(CaseRecord.version).label("top"),
        )
        .group_by(col(CaseRecord.application_id))
        .subquery()
    )
    n = sa.func.coalesce(counted.c.n, 0)
    top = sa.func.coalesce(counted.c.top, 0)
    statement = (
        select(Application.updated_at, Application.case_seq, n, top)
        .outerjoin(counted, counted.c.application_id == Application.id)
        .where(sa.or_(n != Application.case_seq, top != Application.case_seq))
    )
    if start is not None:
        statement = statement.where(col(Application.updated_at) >= start)
    return [
        (updated, max(seq, top) - count) for updated, seq, count, top in uow.session.exec(statement)
    ]


async def case_sync_report(
    rt: Runtime, principal: Principal | None, *, since: date | None = None
) -> CaseSyncReport:
    """The reconciliation report (bureau, admins, auditors).

    :raises Forbidden: another role.
    """
    require_role(principal, *REPORT_ROLES)
    return await rt.read(lambda uow: build_report(uow, since=since))


@dataclass(frozen=True, slots=True)
class Repush:
    """Command: push again what the platform has not acknowledged.

    :ivar receipt_no: only this case.
    :ivar since: only records written on or after this local day.
    """

    receipt_no: str | None = None
    since: date | None = None


def _filters(uow: UnitOfWork, command: Repush) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if command.receipt_no is not None:
        where.append(col(CaseRecord.receipt_no) == command.receipt_no)
    if command.since is not None:
        zone = ZoneInfo(uow.settings.casesync.timezone)
        start = datetime.combine(command.since, datetime.min.time(), tzinfo=zone)
        where.append(col(CaseRecord.created_at) >= start)
    return where


async def repush_case_records(rt: Runtime, command: Repush, principal: Principal | None) -> int:
    """Queue rejected and held records again and give every record due a push a new push job
    now (ignoring the usual wait after a failed job); returns how many were scheduled. A
    record the platform already acknowledged is never pushed again.

    :raises Forbidden: not an admin. :raises InvalidInput: a malformed receipt number.
    """
    actor = require_role(principal, *REPUSH_ROLES)
    if command.receipt_no is not None and not (0 < len(command.receipt_no) <= 32):
        raise InvalidInput("办件编号格式不正确", field="receiptNo")

    def repush(uow: UnitOfWork) -> int:
        where = _filters(uow, command)
        reopened = uow.session.execute(
            sa.update(CaseRecord)
            .where(
                col(CaseRecord.status).in_((CaseRecordStatus.REJECTED, CaseRecordStatus.HELD)),
                *where,
            )
            .values(status=CaseRecordStatus.QUEUED)
            .execution_options(synchronize_session=False)
        )
        sent = (
            sa.update(CaseRecord)
            .where(col(CaseRecord.status) == CaseRecordStatus.SENT, *where)
            .values(ack_due_at=uow.now)
            .execution_options(synchronize_session=False)
        )
        uow.session.execute(sent)
        rows = casesync.due_for_push(
            uow,
            held_too=True,
            retry_dead_after=None,
            where=where,
            limit=uow.settings.casesync.batch_size * 50,
        )
        scheduled = casesync.schedule(uow, rows)
        uow.audit(
            AuditEntry(
                actor.id,
                actor.role.value,
                "casesync.repush",
                "casesync",
                command.receipt_no or "*",
                {
                    "reopened": getattr(reopened, "rowcount", 0),
                    "scheduled": scheduled,
                    "since": command.since.isoformat() if command.since else None,
                },
                at=uow.now,
            )
        )
        uow.commit()
        return scheduled

    return await rt.write(repush)
