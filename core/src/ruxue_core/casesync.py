"""Provincial case records (办件数据回传): what each lifecycle step writes, and push scheduling.

Every transition writes, in its own transaction, the case records the province's platform
needs, numbered per case from 1 without gaps (``CaseRecord.version``; with the receipt
number, the idempotency key):

- ``accept`` (受理) when an application is first submitted: receipt number, item and
  implementation codes, receiving department, channel, acceptance time and handler, the
  promised completion date, the applicant (resolved at push time);
- ``process`` (过程) for every step: action code, step name, handler, opinion, start and end;
- ``special`` (特别程序) when a correction pause (补正) starts and again when it ends;
- ``result`` (办结) when the case reaches an outcome: admitted school or outcome, and the
  electronic admission notice as the result certificate once admission issues one.

The records hold Ruxue's canonical field names and no personal numbers: the applicant's ID
number and phone and the query code are decrypted only when a record is pushed. Which kind
goes to which of the province's interfaces ("4.2.1", "4.2.2"), the field names and the code
tables are the case reporter plugin's configuration. Records are pushed in order: a record
goes out only after every earlier record of its case was acknowledged (see
:mod:`ruxue_core.casepush`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from ruxue_core.domain import CaseRecord, Job
from ruxue_core.domain.enums import STATUS_LABELS, CaseRecordStatus, JobStatus, Status
from ruxue_core.plugins.contracts import Principal
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.lifecycle import Case

PUSH_KIND: Final = "casesync.push"
ACCEPT: Final = "accept"
PROCESS: Final = "process"
SPECIAL: Final = "special"
RESULT: Final = "result"
KINDS: Final = (ACCEPT, PROCESS, SPECIAL, RESULT)

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
"""Statuses that are an outcome of the case (办结): each writes a result record."""
PAUSES: Final[dict[Status, tuple[str, str]]] = {Status.NEEDS_CORRECTION: ("correction", "补正")}
"""Statuses during which the case's clock stops (特别程序), with the procedure's code and label."""
CERTIFICATE_NAME: Final = "入学通知书"
OPEN: Final = (CaseRecordStatus.QUEUED, CaseRecordStatus.HELD, CaseRecordStatus.SENT)
"""Statuses of a record the platform has not confirmed yet."""


def kinds_for(source: Status, target: Status) -> tuple[str, ...]:
    """The records one transition writes, in order (the lifecycle counts them ahead)."""
    kinds: list[str] = []
    if source is Status.DRAFT and target is Status.SUBMITTED:
        kinds.append(ACCEPT)
    if source in PAUSES:
        kinds.append(SPECIAL)  # the pause ends
    kinds.append(PROCESS)
    if target in PAUSES:
        kinds.append(SPECIAL)  # a pause starts
    if target in RESULT_STATUSES:
        kinds.append(RESULT)
    return tuple(kinds)


def promised_date(item: dict[str, Any], accepted: date) -> str | None:
    """The promised completion date (承诺办结时间): the earlier of acceptance plus the promised
    days and the season's fixed date, whichever the season gives."""
    dates = []
    if item.get("promise_days") is not None:
        dates.append(accepted + timedelta(days=int(item["promise_days"])))
    if item.get("promised_by"):
        dates.append(date.fromisoformat(str(item["promised_by"])))
    return min(dates).isoformat() if dates else None


def record_step(
    uow: UnitOfWork,
    case: Case,
    *,
    source: Status,
    event: str,
    event_label: str,
    principal: Principal,
    comment: str,
    since: datetime,
    first_version: int,
) -> None:
    """Write the case records of one transition and queue the push of the first (same
    transaction). The application already holds its new status and version.

    :param since: when the application entered ``source`` (the step's start time).
    :param first_version: the number of the first record written here.
    """
    application = case.application
    assert application.id is not None
    target = application.status
    item: dict[str, Any] = dict(case.season.policy.get("case") or {})
    handler = principal.name or principal.id
    common = {
        "receipt_no": application.receipt_no,
        "application_version": application.version,
        "region_code": uow.settings.district_code,
        "township_code": application.township_code,
        "item_code": item.get("item_code"),
        "implementation_code": item.get("implementation_code"),
        "department_code": item.get("department_code"),
        "recorded_at": uow.now.isoformat(),
    }
    payloads: dict[str, list[dict[str, Any]]] = {
        ACCEPT: [
            {
                "item_name": item.get("item_name"),
                "department_name": item.get("department_name"),
                "season_code": case.season.code,
                "channel": application.channel.value,
                "applicant_type": "natural_person",
                "applicant_id_type": "resident_id",
                "accepted_at": uow.now.isoformat(),
                "accepted_by": handler,
                "accepted_by_role": principal.role.value,
                "promised_at": promised_date(item, uow.now.date()),
            }
        ],
        PROCESS: [
            {
                "action": event,
                "step": event_label,
                "handler": handler,
                "handler_role": principal.role.value,
                "opinion": comment,
                "started_at": since.isoformat(),
                "ended_at": uow.now.isoformat(),
                "from_status": source.value,
                "to_status": target.value,
                "status_label": STATUS_LABELS[target],
            }
        ],
        SPECIAL: [],
        RESULT: [
            {
                "outcome": target.value,
                "outcome_label": STATUS_LABELS[target],
                "school_code": case.school.code if case.school else None,
                "school_name": case.school.name if case.school else None,
                "certificate_name": CERTIFICATE_NAME if target is Status.ADMITTED else None,
                # The electronic admission notice's number (电子录取通知书编号).
                "certificate_no": case.notice_no if target is Status.ADMITTED else None,
                "completed_at": uow.now.isoformat(),
                "handler": handler,
            }
        ],
    }
    if source in PAUSES:
        code, label = PAUSES[source]
        payloads[SPECIAL].append(
            {
                "procedure": code,
                "procedure_label": label,
                # Numbered by the application version that entered the pause.
                "procedure_no": application.version - 1,
                "phase": "end",
                "reason": None,
                "started_at": since.isoformat(),
                "ended_at": uow.now.isoformat(),
                "outcome": event,
                "handler": handler,
            }
        )
    if target in PAUSES:
        code, label = PAUSES[target]
        payloads[SPECIAL].append(
            {
                "procedure": code,
                "procedure_label": label,
                "procedure_no": application.version,
                "phase": "start",
                "reason": comment,
                "started_at": uow.now.isoformat(),
                "ended_at": None,
                "outcome": None,
                "handler": handler,
            }
        )
    version = first_version
    for kind in kinds_for(source, target):
        first = version == first_version
        record: dict[str, Any] = {  # the hot path builds no model (defaults fill the rest)
            "application_id": application.id,
            "receipt_no": application.receipt_no,
            "version": version,
            "application_version": application.version,
            "kind": kind,
            "payload": common | {"version": version, "kind": kind} | payloads[kind].pop(0),
            "round": 1 if first else 0,
            "push_key": push_key(application.receipt_no, version, 1) if first else None,
            "scheduled_at": uow.now if first else None,
            "created_at": uow.now,
        }
        uow.insert_values_at_commit(CaseRecord, record)
        version += 1
    uow.enqueue(
        PUSH_KIND,
        {"receipt_no": application.receipt_no, "version": first_version},
        key=push_key(application.receipt_no, first_version, 1),
    )


def push_key(receipt_no: str, version: int, round_: int) -> str:
    """The idempotency key of a record's ``round_``-th push job."""
    return f"case:{receipt_no}:v{version}:{round_}"


# --- scheduling ---------------------------------------------------------------------------


def _head() -> sa.ColumnElement[bool]:
    """The record is its case's head: every earlier record was acknowledged."""
    earlier = aliased(CaseRecord)
    return ~sa.exists().where(
        col(earlier.receipt_no) == CaseRecord.receipt_no,
        col(earlier.version) < CaseRecord.version,
        col(earlier.status) != CaseRecordStatus.ACKED,
    )


def due_for_push(
    uow: UnitOfWork,
    *,
    held_too: bool,
    retry_dead_after: float | None,
    where: Sequence[sa.ColumnElement[bool]] = (),
    limit: int,
) -> list[tuple[int, str, int, int]]:
    """Records that need a push job now: heads of their case that are queued (or held, when
    a reporter is configured), or sent with the acknowledgement overdue, and have no live
    push job. A dead push job counts as live until ``retry_dead_after`` seconds passed since
    it was scheduled (``None``: dead jobs are retried at once).

    :return: ``(id, receipt_no, version, round)`` rows.
    """
    statuses = [CaseRecordStatus.QUEUED, *([CaseRecordStatus.HELD] if held_too else [])]
    wanted = sa.or_(
        col(CaseRecord.status).in_(statuses),
        sa.and_(
            col(CaseRecord.status) == CaseRecordStatus.SENT,
            col(CaseRecord.ack_due_at) <= uow.now,
        ),
    )
    finished = col(Job.status) == JobStatus.DONE
    if retry_dead_after is None:
        finished = sa.or_(finished, col(Job.status) == JobStatus.DEAD)
    else:
        finished = sa.or_(
            finished,
            sa.and_(
                col(Job.status) == JobStatus.DEAD,
                col(CaseRecord.scheduled_at) <= uow.now - timedelta(seconds=retry_dead_after),
            ),
        )
    statement = (
        select(CaseRecord.id, CaseRecord.receipt_no, CaseRecord.version, CaseRecord.round)
        .outerjoin(Job, col(Job.idempotency_key) == CaseRecord.push_key)
        .where(wanted, sa.or_(col(Job.id).is_(None), finished), _head(), *where)
        .order_by(col(CaseRecord.id))
        .limit(limit)
    )
    return [(int(r[0] or 0), r[1], r[2], r[3]) for r in uow.session.exec(statement).all()]


def schedule(uow: UnitOfWork, rows: Sequence[tuple[int, str, int, int]]) -> int:
    """Queue a new push job for each ``(id, receipt_no, version, round)`` row (at commit)."""
    if not rows:
        return 0
    updates = []
    for record_id, receipt_no, version, round_ in rows:
        key = push_key(receipt_no, version, round_ + 1)
        updates.append(
            {"id": record_id, "round": round_ + 1, "push_key": key, "scheduled_at": uow.now}
        )
        uow.enqueue(PUSH_KIND, {"receipt_no": receipt_no, "version": version}, key=key)
    uow.session.execute(sa.update(CaseRecord), updates)
    return len(rows)


def schedule_next(uow: UnitOfWork, receipt_no: str, version: int) -> int:
    """After ``version`` was acknowledged: queue the push of the case's next record."""
    rows = due_for_push(
        uow,
        held_too=True,
        retry_dead_after=None,
        where=[col(CaseRecord.receipt_no) == receipt_no, col(CaseRecord.version) == version + 1],
        limit=1,
    )
    return schedule(uow, rows)
