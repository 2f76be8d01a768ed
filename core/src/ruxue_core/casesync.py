"""Provincial case push (办件数据回传): one record per step, idempotent by (receipt, version).

The acceptance record corresponds to the province's interface "4.2.1", process and result
records to "4.2.2". The province's field names are not public, so records hold Ruxue's own
canonical fields; a case reporter plugin maps them onto the platform's names and code tables.
No personal numbers are stored in a record: the reporter resolves them at push time.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ruxue_core import jobs
from ruxue_core.domain import Application, CaseRecord
from ruxue_core.domain.enums import STATUS_LABELS, CaseRecordStatus, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.plugins.contracts import CaseRecordPush, Principal
from ruxue_core.uow import UnitOfWork

RESULT_STATUSES: Final = frozenset(
    {
        Status.ADMITTED,
        Status.REJECTED,
        Status.ENROLLED,
        Status.NO_SHOW,
        Status.WITHDRAWN,
        Status.VOIDED,
    }
)


def record_kind(previous: Status, current: Status) -> str:
    """``accept`` for the first submission, ``result`` for an outcome, else ``process``."""
    if previous is Status.DRAFT and current is Status.SUBMITTED:
        return "accept"
    if current in RESULT_STATUSES:
        return "result"
    return "process"


def record_step(
    uow: UnitOfWork,
    application: Application,
    previous: Status,
    action: str,
    principal: Principal,
    comment: str,
) -> None:
    """Write the case record for one transition and queue its push (same transaction)."""
    assert application.id is not None
    record = CaseRecord(
        application_id=application.id,
        receipt_no=application.receipt_no,
        version=application.version,
        kind=record_kind(previous, application.status),
        payload={
            "receipt_no": application.receipt_no,
            "region_code": uow.settings.district_code,
            "channel": application.channel.value,
            "action": action,
            "from_status": previous.value,
            "status": application.status.value,
            "status_label": STATUS_LABELS[application.status],
            "handler": principal.name or principal.id,
            "handler_role": principal.role.value,
            "opinion": comment,
            "at": uow.now.isoformat(),
            "version": application.version,
        },
        created_at=uow.now,
    )
    uow.insert_at_commit(record)
    uow.enqueue(
        "casesync.push",
        {"receipt_no": application.receipt_no, "version": application.version},
        key=f"case:{application.receipt_no}:v{application.version}",
    )


def _record(session: Session, receipt_no: str, version: int) -> CaseRecord | None:
    return session.exec(
        select(CaseRecord).where(
            col(CaseRecord.receipt_no) == receipt_no, col(CaseRecord.version) == version
        )
    ).first()


async def push_handler(context: jobs.JobContext) -> jobs.Apply:
    """Job ``casesync.push``: push one record to every configured reporter."""
    runtime = context.runtime
    receipt_no, version = (
        str(context.job.payload["receipt_no"]),
        int(context.job.payload["version"]),
    )
    record = await runtime.read(lambda uow: _record(uow.session, receipt_no, version))
    if record is None:
        raise LookupError(f"case record {receipt_no} v{version} does not exist")
    reporters = runtime.host.case_reporters()
    push = CaseRecordPush(record.receipt_no, record.version, record.kind, record.payload)
    acked = []
    for _, reporter in reporters:
        async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
            acked.append(await reporter.push(push))

    def apply(uow: UnitOfWork) -> None:
        values: dict[str, Any] = {"attempts": record.attempts + 1}
        if not reporters:
            values["status"] = CaseRecordStatus.HELD
        elif all(acked):
            values |= {"status": CaseRecordStatus.ACKED, "acked_at": utcnow()}
        else:
            values["status"] = CaseRecordStatus.SENT
        uow.session.execute(
            sa.update(CaseRecord).where(col(CaseRecord.id) == record.id).values(**values)
        )

    return apply


def status_counts(uow: UnitOfWork) -> dict[CaseRecordStatus, int]:
    """How many case records are in each push state (for the reconciliation report)."""
    rows = uow.session.exec(
        select(CaseRecord.status, func.count()).group_by(col(CaseRecord.status))
    ).all()
    return {CaseRecordStatus(status): n for status, n in rows}
