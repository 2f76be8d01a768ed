"""Reports: what happened in the system, counted (the demo's summary, operators' overview)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select

from ruxue_core import audit
from ruxue_core.domain import Application, CaseRecord, Evidence, Job, Message
from ruxue_core.domain.enums import STATUS_LABELS, Status
from ruxue_core.uow import UnitOfWork


async def _count_by(uow: UnitOfWork, column: Any) -> dict[str, int]:
    rows = (await uow.session.exec(select(column, func.count()).group_by(column))).all()
    return {str(getattr(value, "value", value)): n for value, n in rows}


async def system_summary(uow: UnitOfWork) -> dict[str, Any]:
    """Counts per application status, verification outcome, message, job and case record
    state, plus the audit chain's integrity. Plain JSON-ready data."""
    by_status = await _count_by(uow, col(Application.status))
    report = await audit.verify_chain(uow.session)
    return {
        "applications": sum(by_status.values()),
        "by_status": by_status,
        "by_status_label": {STATUS_LABELS[Status(k)]: v for k, v in by_status.items()},
        "verification_checks": await _count_by(uow, col(Evidence.outcome)),
        "messages": await _count_by(uow, col(Message.status)),
        "jobs": await _count_by(uow, col(Job.status)),
        "case_records": await _count_by(uow, col(CaseRecord.status)),
        "audit": {"rows": report.rows, "intact": report.ok},
    }
