"""The hash-chained audit log: intact after real work, broken by any edit or deletion, and
still linear when many writers commit at once."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.audit import GENESIS, VerifyReport, row_hash, verify_chain
from ruxue_core.domain import Application, AuditEvent
from ruxue_core.domain.enums import ReviewDecision
from ruxue_core.errors import NotFound
from ruxue_core.lifecycle import Event, apply_event
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    ReviewApplication,
    Submitted,
    lookup_status,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_core.testing.factories import BUREAU, GUARDIAN, child_id_number, submit_command


async def verify(runtime: Runtime) -> VerifyReport:
    async with runtime.unit_of_work(read_only=True) as uow:
        return await verify_chain(uow.session)


async def events(runtime: Runtime) -> list[AuditEvent]:
    async with runtime.unit_of_work(read_only=True) as uow:
        return list((await uow.session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all())


async def submit(runtime: Runtime, season: str) -> Submitted:
    async with runtime.unit_of_work() as uow:
        return await submit_application(uow, submit_command(season), GUARDIAN)


async def some_history(runtime: Runtime, season: str) -> None:
    """Season load (by the fixture), submissions, a review, a withdrawal, a failed lookup."""
    first = await submit(runtime, season)
    second = await submit(runtime, season)
    await submit(runtime, season)
    async with runtime.unit_of_work() as uow:
        await withdraw_application(uow, second.application_id, GUARDIAN)
    async with runtime.unit_of_work() as uow:
        # The system refers the first one to manual review; the bureau then returns it.
        application = await uow.session.get(Application, first.application_id)
        assert application is not None
        await apply_event(uow, application, Event.START_VERIFICATION, Principal.system())
        await apply_event(uow, application, Event.REFER_TO_MANUAL, Principal.system())
        await uow.commit()
    async with runtime.unit_of_work() as uow:
        await review_application(
            uow,
            ReviewApplication(first.application_id, ReviewDecision.RETURN, "请补充材料"),
            BUREAU,
        )
    async with runtime.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await lookup_status(uow, first.receipt_no, f"{(int(first.query_code) + 1) % 10**6:06d}")


async def test_chain_is_intact_after_real_work(runtime: Runtime, season: str) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    report = await verify(runtime)
    assert report.ok
    assert report.broken_at is None
    assert report.rows == len(rows)
    assert len(rows) >= 9
    assert rows[0].prev_hash == GENESIS
    for earlier, later in itertools.pairwise(rows):
        assert later.prev_hash == earlier.hash
    actions = [row.action for row in rows]
    assert actions[0] == "season.load"
    assert actions.count("application.submit") == 3
    assert "application.withdraw" in actions
    assert "application.return" in actions
    assert "lookup.failed" in actions


async def test_an_empty_log_verifies(runtime: Runtime) -> None:
    report = await verify(runtime)
    assert report == VerifyReport(rows=0)
    assert report.ok


async def tamper(runtime: Runtime, statement: sa.Executable) -> None:
    async with runtime.unit_of_work() as uow:
        await (await uow.session.connection()).execute(statement)
        await uow.session.commit()


@pytest.mark.parametrize(
    "values",
    [
        {"data": {"from": "submitted", "to": "approved", "version": 99, "comment": ""}},
        {"actor": "mallory"},
        {"action": "application.approve"},
        {"entity_id": "42070420260701000000000"},
    ],
    ids=["data", "actor", "action", "entity_id"],
)
async def test_editing_a_row_is_detected_at_that_row(
    runtime: Runtime, season: str, values: dict[str, object]
) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    victim = rows[len(rows) // 2]
    assert victim.id is not None
    await tamper(
        runtime, sa.update(AuditEvent).where(col(AuditEvent.id) == victim.id).values(**values)
    )

    report = await verify(runtime)
    assert not report.ok
    assert report.broken_at == victim.id
    assert report.rows == len(rows) // 2, "every row before the victim checked out"
    assert report.problem is not None
    assert "篡改" in report.problem


async def test_editing_with_a_recomputed_hash_is_detected_at_the_next_row(
    runtime: Runtime, season: str
) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    victim, following = rows[2], rows[3]
    victim.data = {**victim.data, "comment": "已篡改"}
    forged = row_hash(victim.prev_hash, victim)
    await tamper(
        runtime,
        sa.update(AuditEvent)
        .where(col(AuditEvent.id) == victim.id)
        .values(data=victim.data, hash=forged),
    )
    report = await verify(runtime)
    assert report.broken_at == following.id


async def test_deleting_a_middle_row_is_detected(runtime: Runtime, season: str) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    middle = len(rows) // 2
    victim, following = rows[middle], rows[middle + 1]
    await tamper(runtime, sa.delete(AuditEvent).where(col(AuditEvent.id) == victim.id))

    report = await verify(runtime)
    assert not report.ok
    assert report.broken_at == following.id
    assert report.rows == middle
    assert report.problem is not None
    assert "删除" in report.problem


async def test_inserting_a_row_is_detected(runtime: Runtime, season: str) -> None:
    await some_history(runtime, season)
    rows = await events(runtime)
    last = rows[-1]
    forged = AuditEvent(
        actor="mallory",
        role="admin",
        action="application.approve",
        entity="application",
        entity_id="x",
        data={},
        prev_hash=rows[0].hash,  # pretends to follow the first row
        hash="f" * 64,
    )
    async with runtime.unit_of_work() as uow:
        uow.session.add(forged)
        await uow.session.commit()
    report = await verify(runtime)
    assert report.broken_at == forged.id
    assert report.rows == len(rows)
    assert last.id is not None and forged.id is not None and forged.id > last.id


async def test_concurrent_writers_keep_one_linear_chain(runtime: Runtime, season: str) -> None:
    writers = 8

    async def one_submission() -> Submitted:
        async with runtime.unit_of_work() as uow:
            command = submit_command(season, child_id=child_id_number())
            return await submit_application(uow, command, GUARDIAN)

    first = await one_submission()

    async def one_failed_lookup() -> None:
        async with runtime.unit_of_work() as uow:
            with pytest.raises(NotFound):
                await lookup_status(
                    uow, first.receipt_no, f"{(int(first.query_code) + 1) % 10**6:06d}"
                )

    outcomes = await asyncio.gather(
        *(one_submission() for _ in range(writers)),
        *(one_failed_lookup() for _ in range(2)),
        return_exceptions=True,
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []

    rows = await events(runtime)
    report = await verify(runtime)
    assert report.ok, report
    assert report.rows == len(rows) == 1 + (1 + writers) + 2  # season load, submits, lookups
    prev_hashes = [row.prev_hash for row in rows]
    assert len(set(prev_hashes)) == len(rows), "no two rows claim the same predecessor"
    assert len({row.hash for row in rows}) == len(rows)
