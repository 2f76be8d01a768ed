"""Pushing case records to the provincial platform, in order, until each is acknowledged.

Two jobs do the work, both through the outbox:

- ``casesync.push`` pushes one record when it is its case's head (every earlier record of
  the case acknowledged) and not yet acknowledged. The platform answers ``acknowledged`` (the
  next record is queued at once), ``received`` (an acknowledgement is due within
  ``casesync.ack_timeout_seconds``), or ``rejected`` (the reason is kept; the case's later
  records wait for an operator's ``ruxue casesync repush``). Temporary faults are retried
  by the worker with backoff.
- ``casesync.sweep`` runs every second or so: it asks the platform about records sent
  earlier (at most every ``ack_poll_seconds`` per record), marks acknowledgements and
  rejections, re-pushes records whose acknowledgement is overdue or that the platform does
  not know, and gives a head whose push job ended without an answer a new one.

Plugins only map, sign and transport; ordering, retries, acknowledgement tracking and
re-pushes are the core's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from ruxue_core import casesync, jobs
from ruxue_core.db import execute
from ruxue_core.domain import Application, CaseRecord, Guardian
from ruxue_core.domain.enums import CaseRecordStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import Conflict, TemporaryPluginError
from ruxue_core.plugins.contracts import (
    CaseRecordPush,
    CaseRecordRef,
    CaseReporter,
    PushOutcome,
    PushReceipt,
)
from ruxue_core.uow import UnitOfWork, table_of

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.security import PiiCipher

log = logging.getLogger(__name__)

SWEEP_KIND: Final = "casesync.sweep"
SWEEP_EVERY: Final = 1.0
"""Seconds between sweeps (each is one indexed query when there is nothing to do)."""
MAX_BACKOFF_DOUBLINGS: Final = 6


def reporter_of(runtime: Runtime) -> tuple[str, CaseReporter] | None:
    """The configured case reporter, if any (a deployment pushes to one platform)."""
    reporters = runtime.host.case_reporters()
    return reporters[0] if reporters else None


@dataclass(frozen=True, slots=True)
class _Loaded:
    record: CaseRecord
    sealed: tuple[str, bytes, bytes, bytes]
    """The applicant's name, then ID number, phone and query code, encrypted."""

    def personal(self, cipher: PiiCipher) -> dict[str, str | None]:
        """The personal data a push carries, decrypted only when it is sent (never stored
        in the record)."""
        name, id_number_ct, phone_ct, query_code_ct = self.sealed
        return {
            "applicant_name": name,
            "applicant_id_number": cipher.decrypt(id_number_ct, purpose="guardian.id_number"),
            "applicant_phone": cipher.decrypt(phone_ct, purpose="guardian.phone"),
            "query_code": cipher.decrypt(query_code_ct, purpose="query_code"),
        }


_RECORD_COLUMNS: Final = tuple(table_of(CaseRecord).columns)


@functools.cache
def _load_statement() -> sa.Select[Any]:
    """The statement of :func:`_load`, built once (building it costs more than running it)."""
    earlier = aliased(CaseRecord)
    receipt_no: sa.BindParameter[str] = sa.bindparam("receipt_no")
    version: sa.BindParameter[int] = sa.bindparam("version")
    blocked = (
        sa.exists()
        .where(
            col(earlier.receipt_no) == receipt_no,
            col(earlier.version) < version,
            col(earlier.status) != CaseRecordStatus.ACKED,
        )
        .label("blocked")
    )
    return (
        sa.select(
            *_RECORD_COLUMNS,
            blocked,
            col(Guardian.name),
            col(Guardian.id_number_ct),
            col(Guardian.phone_ct),
            col(Application.query_code_ct),
        )
        .join(Application, col(Application.id) == CaseRecord.application_id)
        .join(Guardian, col(Guardian.id) == Application.guardian_id)
        .where(col(CaseRecord.receipt_no) == receipt_no, col(CaseRecord.version) == version)
    )


def _load(conn: sa.Connection, receipt_no: str, version: int) -> _Loaded | None:
    """The record with the sealed personal data a push needs, in one statement and without
    a session (see ``Runtime.fetch``); ``None`` when there is no such record or an earlier
    record of its case is still unacknowledged (that one's acknowledgement queues this)."""
    row = conn.execute(_load_statement(), {"receipt_no": receipt_no, "version": version}).first()
    width = len(_RECORD_COLUMNS)
    if row is None or row[width]:
        return None
    record = CaseRecord(**{c.key: v for c, v in zip(_RECORD_COLUMNS, row[:width], strict=True)})
    name, id_number_ct, phone_ct, query_code_ct = row[width + 1 :]
    return _Loaded(record, (name, id_number_ct, phone_ct, query_code_ct))


def _ack_delay(uow: UnitOfWork, attempts: int) -> timedelta:
    """How long to wait for an acknowledgement after the ``attempts``-th push (doubling)."""
    base = uow.settings.casesync.ack_timeout_seconds
    return timedelta(seconds=base * 2 ** min(attempts - 1, MAX_BACKOFF_DOUBLINGS))


def _update(uow: UnitOfWork, record: CaseRecord, values: dict[str, Any]) -> None:
    """Change ``record`` only if nobody else did since it was read (else ``Conflict``)."""
    statement = (
        sa.update(CaseRecord)
        .where(
            col(CaseRecord.id) == record.id,
            col(CaseRecord.status) == record.status,
            col(CaseRecord.attempts) == record.attempts,
        )
        .values(**values)
    )
    if execute(uow.session, statement) != 1:
        raise Conflict()


def record_answer(uow: UnitOfWork, record: CaseRecord, reporter: str, answer: PushReceipt) -> None:
    """Apply the platform's answer to a push of ``record`` (the record as read before it)."""
    settings = uow.settings.casesync
    attempts = record.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "reporter": reporter}
    if answer.outcome is PushOutcome.ACKNOWLEDGED:
        values |= {"status": CaseRecordStatus.ACKED, "acked_at": uow.now, "reason": None}
    elif answer.outcome is PushOutcome.RECEIVED:
        values |= {
            "status": CaseRecordStatus.SENT,
            "ack_due_at": uow.now + _ack_delay(uow, attempts),
            "next_check_at": uow.now + timedelta(seconds=settings.ack_poll_seconds),
        }
    else:  # REJECTED
        values |= {"status": CaseRecordStatus.REJECTED, "reason": (answer.reason or "")[:500]}
    if record.sent_at is None:
        values["sent_at"] = uow.now
    _update(uow, record, values)
    if answer.outcome is PushOutcome.ACKNOWLEDGED:
        casesync.schedule_next(uow, record.receipt_no, record.version)


async def push_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Job ``casesync.push``: push one record if it is its case's head and still due."""
    runtime = context.runtime
    receipt_no = str(context.job.payload["receipt_no"])
    version = int(context.job.payload["version"])
    loaded = await runtime.fetch(lambda conn: _load(conn, receipt_no, version))
    if loaded is None:
        return None  # the acknowledgement of the record before it queues this one again
    record = loaded.record
    selected = reporter_of(runtime)
    if record.status in (CaseRecordStatus.ACKED, CaseRecordStatus.REJECTED):
        return None
    if record.status is CaseRecordStatus.SENT and (
        record.ack_due_at is None or record.ack_due_at > utcnow()
    ):
        return None  # someone pushed it meanwhile; its acknowledgement is not overdue yet
    if selected is None:
        if record.status is CaseRecordStatus.HELD:
            return None
        return lambda uow: _update(uow, record, {"status": CaseRecordStatus.HELD})
    name, reporter = selected
    personal = loaded.personal(runtime.cipher)
    push = CaseRecordPush(record.receipt_no, record.version, record.kind, record.payload, personal)
    async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
        answer = await reporter.push(push)
    if answer.outcome is PushOutcome.UNKNOWN:
        raise TemporaryPluginError("平台未确认收到该办件记录")
    return lambda uow: record_answer(uow, record, name, answer)


# --- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did."""

    checked: int = 0
    acknowledged: int = 0
    rejected: int = 0
    scheduled: int = 0


def _sent_due_for_check(uow: UnitOfWork, limit: int) -> list[CaseRecord]:
    return list(
        uow.session.exec(
            select(CaseRecord)
            .where(
                col(CaseRecord.status) == CaseRecordStatus.SENT,
                col(CaseRecord.next_check_at) <= uow.now,
            )
            .order_by(col(CaseRecord.next_check_at))
            .limit(limit)
        ).all()
    )


def _apply_checks(
    uow: UnitOfWork, reporter: str, checked: list[tuple[CaseRecord, PushReceipt]]
) -> SweepResult:
    """Record what the platform said about sent records; overdue ones get re-pushed below."""
    poll = timedelta(seconds=uow.settings.casesync.ack_poll_seconds)
    acknowledged = rejected = 0
    for record, answer in checked:
        try:
            if answer.outcome is PushOutcome.ACKNOWLEDGED:
                _update(
                    uow,
                    record,
                    {"status": CaseRecordStatus.ACKED, "acked_at": uow.now, "reason": None},
                )
                casesync.schedule_next(uow, record.receipt_no, record.version)
                acknowledged += 1
            elif answer.outcome is PushOutcome.REJECTED:
                reason = (answer.reason or "")[:500]
                _update(uow, record, {"status": CaseRecordStatus.REJECTED, "reason": reason})
                rejected += 1
            elif answer.outcome is PushOutcome.UNKNOWN:
                # It never arrived: push it again now rather than at the deadline.
                _update(uow, record, {"ack_due_at": uow.now, "next_check_at": uow.now + poll})
            else:
                _update(uow, record, {"next_check_at": uow.now + poll})
        except Conflict:
            continue  # a push of the same record answered meanwhile: its answer stands
    return SweepResult(len(checked), acknowledged, rejected)


async def sweep(runtime: Runtime) -> SweepResult:
    """Check acknowledgements of sent records, then queue pushes for every record due one.

    Nothing happens without a configured reporter (records stay held).
    """
    selected = reporter_of(runtime)
    if selected is None:
        return SweepResult()
    name, reporter = selected
    settings = runtime.settings.casesync
    records = await runtime.read(lambda uow: _sent_due_for_check(uow, settings.batch_size))
    checked: list[tuple[CaseRecord, PushReceipt]] = []
    if records:
        refs = [CaseRecordRef(r.receipt_no, r.version, r.kind) for r in records]
        try:
            async with asyncio.timeout(runtime.settings.plugin_timeout_seconds):
                answers = await reporter.acknowledgements(refs)
        except (TemporaryPluginError, TimeoutError) as exc:
            log.warning("case sync: acknowledgement query failed (%s); retrying later", exc)
            answers = []
        if len(answers) == len(records):
            checked = list(zip(records, answers, strict=True))
        elif answers:
            log.warning("case sync: %s answered %d of %d queries", name, len(answers), len(refs))

    def apply(uow: UnitOfWork) -> SweepResult:
        result = _apply_checks(uow, name, checked)
        rows = casesync.due_for_push(
            uow,
            held_too=True,
            retry_dead_after=settings.retry_after_seconds,
            limit=settings.batch_size,
        )
        scheduled = casesync.schedule(uow, rows)
        uow.commit()
        return SweepResult(result.checked, result.acknowledged, result.rejected, scheduled)

    return await runtime.write(apply)


async def sweep_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Periodic job ``casesync.sweep`` (see :func:`sweep`)."""
    await sweep(context.runtime)
    return None
