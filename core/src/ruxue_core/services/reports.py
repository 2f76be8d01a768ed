"""Reports: what happened in the system, counted (the demo's summary, operators' overview)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select

from ruxue_core import audit, keys
from ruxue_core.domain import Application, CaseRecord, Evidence, Job, Message
from ruxue_core.domain.enums import STATUS_LABELS, Status
from ruxue_core.uow import UnitOfWork


def _count_by(uow: UnitOfWork, column: Any) -> dict[str, int]:
    rows = uow.session.exec(select(column, func.count()).group_by(column)).all()
    return {str(getattr(value, "value", value)): n for value, n in rows}


def _messages_by_vendor(uow: UnitOfWork) -> dict[str, dict[str, int]]:
    """Messages per vendor (``-`` for none yet) and status."""
    rows = uow.session.exec(
        select(Message.vendor, Message.status, func.count()).group_by(
            col(Message.vendor), col(Message.status)
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for vendor, status, n in rows:
        counts.setdefault(vendor or "-", {})[str(getattr(status, "value", status))] = n
    return counts


def system_summary(uow: UnitOfWork) -> dict[str, Any]:
    """Counts per application status, verification outcome, message, job and case record
    state, plus the audit log's integrity. Plain JSON-ready data."""
    by_status = _count_by(uow, col(Application.status))
    public = keys.audit_signing_key(uow.settings).public_key()
    report = audit.verify_log(uow.session, public)
    return {
        "applications": sum(by_status.values()),
        "by_status": by_status,
        "by_status_label": {STATUS_LABELS[Status(k)]: v for k, v in by_status.items()},
        "verification_checks": _count_by(uow, col(Evidence.outcome)),
        "messages": _count_by(uow, col(Message.status)),
        "messages_by_vendor": _messages_by_vendor(uow),
        "jobs": _count_by(uow, col(Job.status)),
        "case_records": _count_by(uow, col(CaseRecord.status)),
        "audit": {
            "entries": report.entries,
            "heads": report.heads,
            "unsequenced": report.unsequenced,
            "intact": report.ok,
        },
    }
