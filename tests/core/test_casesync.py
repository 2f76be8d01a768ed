"""Provincial case push: which records each step writes, and how they reach the platform —
in order per case, once per version, acknowledged, re-pushed when the acknowledgement is late,
kept with the platform's reason when rejected — and the reconciliation report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from casesync_helpers import settle
from sqlmodel import col, select

from ruxue_core import casepush
from ruxue_core.domain import CaseRecord
from ruxue_core.domain.enums import CaseRecordStatus, Status
from ruxue_core.errors import Forbidden
from ruxue_core.handlers import HANDLERS
from ruxue_core.jobs import Worker
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import submit_application
from ruxue_core.services.casesync import Repush, case_sync_report, repush_case_records
from ruxue_core.settings import CaseSyncSettings, Settings, WorkerSettings
from ruxue_core.testing import RecordingCaseReporter, RecordingCaseReporterPlugin
from ruxue_core.testing.factories import (
    ADMIN,
    BUREAU,
    COUNTER,
    GUARDIAN,
    GUARDIAN_ID,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

SYSTEM = Principal.system()
FAST = CaseSyncSettings(ack_timeout_seconds=0.05, ack_poll_seconds=0.001, retry_after_seconds=0.01)


@pytest.fixture
def reporter() -> RecordingCaseReporter:
    return RecordingCaseReporter()


@pytest.fixture
async def pushing(settings: Settings, reporter: RecordingCaseReporter) -> AsyncIterator[Runtime]:
    """A runtime pushing to the recording reporter, with fast acknowledgement deadlines."""
    configured = settings.model_copy(
        update={
            "case_reporters": ["fake"],
            "casesync": FAST,
            "worker": WorkerSettings(backoff_base=0.001, backoff_cap=0.001),
        }
    )
    runtime = Runtime.create(configured, extra_plugins=[RecordingCaseReporterPlugin(reporter)])
    try:
        yield runtime
    finally:
        await runtime.close()


async def submit(runtime: Runtime, season: str) -> tuple[int, str]:
    submitted = await submit_application(
        runtime, submit_command(season, child_id=child_id_number()), GUARDIAN
    )
    return submitted.application_id, submitted.receipt_no


async def walk(runtime: Runtime, application_id: int, steps: list[tuple[Event, Principal]]) -> None:
    for event, principal in steps:

        def step(uow: UnitOfWork, event: Event = event, principal: Principal = principal) -> None:
            case = load_case(uow, application_id)
            assert case is not None
            apply_event(uow, case, event, principal, comment="意见")
            uow.commit()

        await runtime.write(step)


CORRECTED_AND_REJECTED = [
    (Event.START_VERIFICATION, SYSTEM),
    (Event.FAIL_VERIFICATION, SYSTEM),
    (Event.CORRECT, GUARDIAN),
    (Event.START_VERIFICATION, SYSTEM),
    (Event.PASS_VERIFICATION, SYSTEM),
    (Event.REJECT, SCHOOL_REVIEWER),
]


async def records_of(runtime: Runtime, receipt_no: str) -> list[CaseRecord]:
    return await runtime.read(
        lambda uow: list(
            uow.session.exec(
                select(CaseRecord)
                .where(col(CaseRecord.receipt_no) == receipt_no)
                .order_by(col(CaseRecord.version))
            ).all()
        )
    )


async def _pause() -> None:
    await asyncio.sleep(0.02)


# ---- what each step writes ------------------------------------------------------------------


async def test_a_case_writes_accept_process_pause_and_result_records(
    runtime: Runtime, season: str
) -> None:
    application_id, receipt_no = await submit(runtime, season)
    await walk(runtime, application_id, CORRECTED_AND_REJECTED)
    records = await records_of(runtime, receipt_no)
    assert [r.kind for r in records] == [
        "accept",
        "process",  # submit
        "process",  # start verification
        "process",  # fail verification …
        "special",  # … starts the correction pause
        "special",  # the correction ends it …
        "process",  # … and is a step of its own
        "process",
        "process",
        "process",  # reject …
        "result",  # … is an outcome
    ]
    assert [r.version for r in records] == list(range(1, 12))
    assert {r.status for r in records} == {CaseRecordStatus.QUEUED}

    accept = records[0].payload
    assert accept["item_code"] == "420704-JY-0001"
    assert accept["implementation_code"].startswith("11420704MB1234567X")
    assert accept["department_name"] == "鄂州市临空经济区社会事务局"
    assert accept["channel"] == "online"
    assert accept["accepted_by"] == GUARDIAN.name
    # 20 days after acceptance, unless the season's fixed date comes first.
    assert accept["promised_at"] <= "2026-08-10"
    start, end = records[4].payload, records[5].payload
    assert (start["phase"], end["phase"]) == ("start", "end")
    assert start["procedure_no"] == end["procedure_no"]
    assert start["reason"] == "意见" and end["outcome"] == "correct"
    assert end["started_at"] == start["started_at"] and end["ended_at"] is not None
    process = records[9].payload
    assert (process["action"], process["step"], process["handler"]) == (
        "reject",
        "审核不通过",
        "李老师",
    )
    assert process["started_at"] < process["ended_at"]
    assert records[10].payload["outcome"] == "rejected"

    application_case_seq = await runtime.read(
        lambda uow: uow.session.execute(
            sa.text("SELECT case_seq FROM application WHERE id = :id"), {"id": application_id}
        ).scalar_one()
    )
    assert application_case_seq == 11
    # No personal number is stored in a record.
    stored = json.dumps([r.payload for r in records], ensure_ascii=False)
    assert GUARDIAN_ID not in stored and "13812345678" not in stored


async def test_without_a_reporter_records_are_held_then_pushed_in_order_once_one_is(
    runtime: Runtime, season: str, settings: Settings, reporter: RecordingCaseReporter
) -> None:
    application_id, receipt_no = await submit(runtime, season)
    await walk(runtime, application_id, CORRECTED_AND_REJECTED[:2])
    await Worker(runtime, HANDLERS).drain()
    held = await records_of(runtime, receipt_no)
    assert held[0].status is CaseRecordStatus.HELD
    assert {r.status for r in held[1:]} <= {CaseRecordStatus.QUEUED, CaseRecordStatus.HELD}

    configured = settings.model_copy(update={"case_reporters": ["fake"], "casesync": FAST})
    later = Runtime.create(configured, extra_plugins=[RecordingCaseReporterPlugin(reporter)])
    try:
        await settle(later)
    finally:
        await later.close()
    assert reporter.order == [(receipt_no, v) for v in range(1, len(held) + 1)]
    assert {r.status for r in await records_of(runtime, receipt_no)} == {CaseRecordStatus.ACKED}


# ---- pushing --------------------------------------------------------------------------------


async def test_records_are_pushed_in_order_acknowledged_once_with_personal_data_at_push_time(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    cases = [await submit(pushing, season) for _ in range(3)]
    for application_id, _ in cases:
        await walk(pushing, application_id, CORRECTED_AND_REJECTED)
    await settle(pushing)

    for _, receipt_no in cases:
        records = await records_of(pushing, receipt_no)
        assert {r.status for r in records} == {CaseRecordStatus.ACKED}
        assert all(r.acked_at is not None and r.attempts == 1 for r in records)
        arrived = [v for r, v in reporter.order if r == receipt_no]
        assert arrived == [r.version for r in records]
    assert reporter.pushes == len(reporter.records)  # nothing pushed twice
    first = reporter.records[(cases[0][1], 1)]
    assert first.personal["applicant_id_number"] == GUARDIAN_ID
    assert first.personal["applicant_phone"] == "13812345678"
    assert first.personal["query_code"] and first.personal["applicant_name"] == "张三"
    assert GUARDIAN_ID not in repr(first)


async def test_late_acknowledgements_are_awaited_and_overdue_records_pushed_again(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    reporter.acknowledge = False
    application_id, receipt_no = await submit(pushing, season)
    await walk(pushing, application_id, CORRECTED_AND_REJECTED[:2])
    worker = Worker(pushing, HANDLERS)
    await worker.drain()
    [first, *rest] = await records_of(pushing, receipt_no)
    assert first.status is CaseRecordStatus.SENT and first.ack_due_at is not None
    assert {r.status for r in rest} == {CaseRecordStatus.QUEUED}, "later records wait"
    assert reporter.order == [(receipt_no, 1)]

    # The acknowledgement does not come in time: the record is pushed again (same version).
    for _ in range(20):
        await _pause()
        await casepush.sweep(pushing)
        await worker.drain()
        if reporter.pushes >= 2:
            break
    assert reporter.pushes >= 2
    assert reporter.order == [(receipt_no, 1)], "no later record went out meanwhile"

    reporter.acknowledge = True  # the platform catches up
    await settle(pushing)
    records = await records_of(pushing, receipt_no)
    assert {r.status for r in records} == {CaseRecordStatus.ACKED}
    assert records[0].attempts >= 2
    assert reporter.order == [(receipt_no, r.version) for r in records]


async def test_temporary_failures_are_retried(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    reporter.fail = 3
    _, receipt_no = await submit(pushing, season)
    await settle(pushing)
    records = await records_of(pushing, receipt_no)
    assert {r.status for r in records} == {CaseRecordStatus.ACKED}
    assert reporter.pushes == len(records) + 3


async def test_a_rejected_record_keeps_the_reason_blocks_its_case_and_is_repushed(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    application_id, receipt_no = await submit(pushing, season)
    _, other = await submit(pushing, season)
    reporter.reject.add(receipt_no)
    await walk(pushing, application_id, CORRECTED_AND_REJECTED[:2])
    await settle(pushing)
    first, *rest = await records_of(pushing, receipt_no)
    assert first.status is CaseRecordStatus.REJECTED
    assert first.reason == "事项编码不存在"
    assert {r.status for r in rest} == {CaseRecordStatus.QUEUED}
    assert {r.status for r in await records_of(pushing, other)} == {CaseRecordStatus.ACKED}

    report = await case_sync_report(pushing, BUREAU)
    assert sum(d.rejected for d in report.days) == 1
    assert report.rejections == [(receipt_no, 1, "事项编码不存在")]
    with pytest.raises(Forbidden):
        await repush_case_records(pushing, Repush(), BUREAU)

    reporter.reject.clear()  # the district fixed the item code with the province
    assert await repush_case_records(pushing, Repush(receipt_no=receipt_no), ADMIN) == 1
    await settle(pushing)
    records = await records_of(pushing, receipt_no)
    assert {r.status for r in records} == {CaseRecordStatus.ACKED}
    assert [v for r, v in reporter.order if r == receipt_no] == [r.version for r in records]


# ---- the report -----------------------------------------------------------------------------


async def test_the_report_counts_each_day_and_what_is_missing(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    reporter.acknowledge = False
    _, receipt_no = await submit(pushing, season)
    await Worker(pushing, HANDLERS).drain()  # verification refers it to manual review
    written = len(await records_of(pushing, receipt_no))
    assert written == 4
    report = await case_sync_report(pushing, BUREAU)
    [today] = report.days
    assert (today.queued, today.sent, today.acknowledged, today.rejected) == (3, 1, 0, 0)
    assert today.missing == 0  # not overdue yet

    # Long unacknowledged: missing.
    overdue = pushing.settings.model_copy(
        update={"casesync": FAST.model_copy(update={"missing_after_seconds": 0.001})}
    )
    stale = Runtime.create(overdue, extra_plugins=[RecordingCaseReporterPlugin(reporter)])
    try:
        await _pause()
        assert (await case_sync_report(stale, Principal.system())).missing == written
    finally:
        await stale.close()

    reporter.acknowledge = True
    await settle(pushing)
    assert (await case_sync_report(pushing, BUREAU)).missing == 0

    # A lost record (damage) shows as missing too.
    def lose(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.delete(CaseRecord).where(
                col(CaseRecord.receipt_no) == receipt_no, col(CaseRecord.version) == 2
            )
        )
        uow.commit()

    await pushing.write(lose)
    assert (await case_sync_report(pushing, BUREAU)).missing == 1


async def test_the_report_is_for_the_bureau_and_auditors(runtime: Runtime) -> None:
    with pytest.raises(Forbidden):
        await case_sync_report(runtime, GUARDIAN)
    with pytest.raises(Forbidden):
        await case_sync_report(runtime, COUNTER)
    assert (await case_sync_report(runtime, BUREAU)).days == []


async def test_an_application_admitted_names_its_school_in_the_result(
    pushing: Runtime, season: str, reporter: RecordingCaseReporter
) -> None:
    application_id, receipt_no = await submit(pushing, season)
    await walk(
        pushing,
        application_id,
        [
            (Event.START_VERIFICATION, SYSTEM),
            (Event.PASS_VERIFICATION, SYSTEM),
            (Event.APPROVE, SCHOOL_REVIEWER),
            (Event.APPROVE, BUREAU),
            (Event.ADMIT, BUREAU),
        ],
    )
    await settle(pushing)
    result = (await records_of(pushing, receipt_no))[-1]
    assert result.kind == "result"
    assert result.payload["outcome"] == Status.ADMITTED.value
    assert (result.payload["school_code"], result.payload["certificate_name"]) == (
        "LK-YJ-01",
        "入学通知书",
    )
    assert "certificate_no" in result.payload
    assert result.status is CaseRecordStatus.ACKED
    assert result.acked_at is not None and result.acked_at - result.created_at < timedelta(
        minutes=1
    )
