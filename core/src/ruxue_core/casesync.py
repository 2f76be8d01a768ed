"""Provincial case push (办件数据回传): one record per step, idempotent by (receipt, version).

The acceptance record corresponds to the province's interface "4.2.1", process and result
records to "4.2.2". The province's field names are not public, so records hold Ruxue's own
canonical fields; a case reporter plugin maps them onto the platform's names and code tables.
No personal numbers are stored in a record: the reporter resolves them at push time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sqlmodel import col, func, select

from ruxue_core import jobs
from ruxue_core.domain import Application, CaseRecord
from ruxue_core.domain.enums import STATUS_LABELS, CaseRecordStatus, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.plugins.contracts import CaseRecordPush, Principal
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime

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


async def record_step(
    uow: UnitOfWork,
    application: Application,
    previous: Status,
    action: str,
    principal: Principal,
    comment: str,
) -> None:
    """Write the case record for one transition and queue its push (same transaction)."""
    assert application.id is not None and application.version is not None
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
            "at": utcnow().isoformat(),
            "version": application.version,
        },
    )
    uow.session.add(record)
    await uow.session.flush()
    await uow.enqueue(
        "casesync.push",
        {"case_record_id": record.id},
        key=f"case:{application.receipt_no}:v{application.version}",
    )


async def push_handler(runtime: Runtime, job: jobs.ClaimedJob) -> jobs.Apply:
    """Job ``casesync.push``: push one record to every configured reporter."""
    record_id = int(job.payload["case_record_id"])
    async with runtime.unit_of_work(read_only=True) as uow:
        record = await uow.session.get(CaseRecord, record_id)
    if record is None:
        raise LookupError(f"case record {record_id} does not exist")
    reporters = runtime.host.case_reporters()
    push = CaseRecordPush(record.receipt_no, record.version, record.kind, record.payload)
    acked = [await reporter.push(push) for _, reporter in reporters]

    async def apply(uow: UnitOfWork) -> None:
        values: dict[str, Any] = {"attempts": record.attempts + 1}
        if not reporters:
            values["status"] = CaseRecordStatus.HELD
        elif all(acked):
            values |= {"status": CaseRecordStatus.ACKED, "acked_at": utcnow()}
        else:
            values["status"] = CaseRecordStatus.SENT
        stored = await uow.session.get(CaseRecord, record_id)
        assert stored is not None
        stored.sqlmodel_update(values)
        uow.session.add(stored)

    return apply


async def status_counts(uow: UnitOfWork) -> dict[CaseRecordStatus, int]:
    """How many case records are in each push state (for the reconciliation report)."""
    rows = (
        await uow.session.exec(
            select(CaseRecord.status, func.count()).group_by(col(CaseRecord.status))
        )
    ).all()
    return {CaseRecordStatus(status): n for status, n in rows}
