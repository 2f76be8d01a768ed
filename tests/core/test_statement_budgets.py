"""Statement budgets: how many SQL statements (and units of work, i.e. transactions) each use
case sends, counted on the engine, so that a change adding round trips shows up here.

``BEGIN`` is left out of the statement counts (SQLite's engine sends ``BEGIN [IMMEDIATE]``
itself; PostgreSQL's driver begins implicitly), so one budget holds on both databases.
Each budget is a ceiling written down from the measured number; the measured numbers are in
the comment beside it (SQLite / PostgreSQL; PostgreSQL adds a ``NOTIFY`` to a commit that
queues jobs).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import sqlalchemy as sa
from material_helpers import PDF, application_in
from sqlalchemy.engine import make_url
from statement_counting import Counted, counting

from ruxue_core import jobs
from ruxue_core.domain.enums import ReviewDecision, Status
from ruxue_core.errors import NotFound
from ruxue_core.jobs import Apply, JobContext, Worker
from ruxue_core.lifecycle import Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    CorrectApplication,
    ReviewApplication,
    Submitted,
    WithdrawApplication,
    correct_application,
    review_application,
    submit_application,
    withdraw_application,
)
from ruxue_core.services.lookup import lookup_status
from ruxue_core.services.uploads import UploadMaterial, upload_material
from ruxue_core.testing.factories import (
    GUARDIAN,
    SCHOOL_REVIEWER,
    child_id_number,
    submit_command,
)
from ruxue_core.uow import UnitOfWork

T = TypeVar("T")
PG_URL = os.environ.get("RUXUE_TEST_DATABASE_URL")


async def measure(runtime: Runtime, action: Callable[[], Awaitable[T]]) -> tuple[T, Counted]:
    """Run ``action`` and count what it sent."""
    with counting(runtime) as counted:
        result = await action()
    return result, counted


def within(counted: Counted, *, statements: int, units: int) -> None:
    """Fail (listing the statements) when a budget is exceeded."""
    listing = "\n".join(counted.statements)
    assert len(counted.statements) <= statements, f"{len(counted.statements)}:\n{listing}"
    assert counted.units <= units, f"{counted.units} units:\n{listing}"


def one_update(counted: Counted) -> bool:
    """Whether the transition wrote the application once (its guarded update), not again at
    the session's flush."""
    return sum(s.lstrip().startswith("UPDATE application") for s in counted.statements) == 1


async def submit(runtime: Runtime, season: str) -> Submitted:
    command = submit_command(season, child_id=child_id_number())
    return await submit_application(runtime, command, GUARDIAN)


async def move(runtime: Runtime, application_id: int, *events: Event) -> None:
    """Apply system events (verification outcomes) directly."""

    def run(uow: UnitOfWork) -> None:
        case = load_case(uow, application_id)
        assert case is not None
        for step in events:
            apply_event(uow, case, step, Principal.system())
        uow.commit()

    await runtime.write(run)


# --- use cases ---------------------------------------------------------------------------------


async def test_submit(runtime: Runtime, season: str) -> None:
    first, counted = await measure(runtime, lambda: submit(runtime, season))
    assert first.status is Status.SUBMITTED
    # new child and new guardian: 11 / 12 (season, school, child, guardian looked up; child,
    # guardian, application inserted; case record, message, audit entry, job at commit)
    within(counted, statements=12, units=1)

    second, counted = await measure(runtime, lambda: submit(runtime, season))
    assert second.status is Status.SUBMITTED
    # another child of a known guardian: 10 / 11 (no guardian insert)
    within(counted, statements=11, units=1)


async def test_correct(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, season)
    await move(runtime, submitted.application_id, Event.START_VERIFICATION, Event.FAIL_VERIFICATION)
    command = CorrectApplication(submitted.application_id, "燕矶镇新街12号")
    changed, counted = await measure(
        runtime, lambda: correct_application(runtime, command, GUARDIAN)
    )
    assert changed.status is Status.SUBMITTED
    # load, one guarded update, case record, message, audit entry, job: 6 / 7
    within(counted, statements=7, units=1)
    assert one_update(counted)


async def test_review(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, season)
    await move(runtime, submitted.application_id, Event.START_VERIFICATION, Event.PASS_VERIFICATION)
    command = ReviewApplication(submitted.application_id, ReviewDecision.APPROVE, "同意")
    changed, counted = await measure(
        runtime, lambda: review_application(runtime, command, SCHOOL_REVIEWER)
    )
    assert changed.status is Status.BUREAU_REVIEW
    # load, one guarded update, case record, review, audit entry, job: 6 / 7
    within(counted, statements=7, units=1)
    assert one_update(counted)


async def test_withdraw(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, season)
    command = WithdrawApplication(submitted.application_id)
    changed, counted = await measure(
        runtime, lambda: withdraw_application(runtime, command, GUARDIAN)
    )
    assert changed.status is Status.WITHDRAWN
    # load, one guarded update, case record, the withdrawal SMS, audit entry, job (and NOTIFY
    # on PostgreSQL): 6 / 7
    within(counted, statements=7, units=1)
    assert one_update(counted)


async def test_upload_material(runtime: Runtime, season: str) -> None:
    application_id = await application_in(runtime, season, Status.MANUAL_REVIEW)
    command = UploadMaterial(application_id, "hukou_book", PDF, "户口簿.pdf", "application/pdf")
    uploaded, counted = await measure(runtime, lambda: upload_material(runtime, command, GUARDIAN))
    assert [m.code for m in uploaded.outstanding] == ["property_certificate"]
    # a read (load, assessment) before the file is stored, then a write (load, assessment,
    # kinds on record; material row, audit entry at commit): 7 / 7
    within(counted, statements=7, units=2)


async def test_lookup(runtime: Runtime, season: str) -> None:
    submitted = await submit(runtime, season)
    view, counted = await measure(
        runtime, lambda: lookup_status(runtime, submitted.receipt_no, submitted.query_code)
    )
    assert view.receipt_no == submitted.receipt_no
    # one read: 1 / 1 (SQLite's BEGIN aside)
    assert len(counted.statements) == 1, counted.sql
    assert counted.units == 1
    assert len(counted.sql) <= 2  # with BEGIN

    wrong = f"{(int(submitted.query_code) + 1) % 10**6:06d}"

    async def wrong_code() -> None:
        with pytest.raises(NotFound):
            await lookup_status(runtime, submitted.receipt_no, wrong)

    _, counted = await measure(runtime, wrong_code)
    # the read, then one write unit counting the failure: 2 / 2
    assert counted.units == 2, counted.sql
    within(counted, statements=2, units=2)

    # After a failure, the right code also forgets the count: one more unit.
    _, counted = await measure(
        runtime, lambda: lookup_status(runtime, submitted.receipt_no, submitted.query_code)
    )
    within(counted, statements=2, units=2)


# --- the outbox --------------------------------------------------------------------------------


async def queue(runtime: Runtime, count: int) -> None:
    def enqueue(uow: UnitOfWork) -> None:
        for i in range(count):
            uow.enqueue("budget.noop", {"i": i}, key=f"budget-{i}")
        uow.commit()

    _, counted = await measure(runtime, lambda: runtime.write(enqueue))
    within(counted, statements=2, units=1)  # one multi-row insert (and NOTIFY): 1 / 2


async def test_claim_is_one_statement_per_batch(runtime: Runtime) -> None:
    await queue(runtime, 20)
    batch, counted = await measure(
        runtime,
        lambda: runtime.db.run(lambda s: jobs.claim(s, "w", limit=20, lease_seconds=60)),
    )
    assert len(batch) == 20
    # 1 / 1, whatever the batch size
    assert (len(counted.statements), counted.units) == (1, 1), counted.sql


async def test_completing_a_job_is_one_unit(runtime: Runtime) -> None:
    await queue(runtime, 1)
    [job] = await runtime.db.run(lambda s: jobs.claim(s, "w", limit=1, lease_seconds=60))

    def finish(uow: UnitOfWork) -> None:
        jobs.complete(uow.session, job)
        uow.commit()

    _, counted = await measure(runtime, lambda: runtime.write(finish))
    # 1 / 1
    assert (len(counted.statements), counted.units) == (1, 1), counted.sql


async def test_a_worker_round_is_one_claim_and_one_group_commit(runtime: Runtime) -> None:
    jobs_in_batch = 10
    await queue(runtime, jobs_in_batch)

    async def noop(ctx: JobContext) -> Apply | None:
        return None

    worker = Worker(runtime, {"budget.noop": noop})
    ran, counted = await measure(runtime, worker.run_once)
    assert ran == jobs_in_batch
    # claim + one complete per job, the completions committed together: 11 / 2
    within(counted, statements=1 + jobs_in_batch, units=2)


# --- read-only units take no write lock ------------------------------------------------------


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's write lock (PostgreSQL has no such lock)")
async def test_a_read_runs_while_another_connection_holds_the_write_lock(
    runtime: Runtime, season: str
) -> None:
    path = make_url(runtime.settings.resolved_database_url).database
    assert path is not None
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # holds the one write lock
        count = await asyncio.wait_for(
            runtime.read(
                lambda uow: uow.session.execute(sa.text("SELECT count(*) FROM season")).one()[0]
            ),
            5,
        )
        assert count == 1

        def write(uow: UnitOfWork) -> None:
            uow.session.execute(sa.text("UPDATE season SET name = name"))
            uow.commit()

        blocked = asyncio.create_task(runtime.write(write))  # a write does wait for it
        await asyncio.sleep(0.5)
        assert not blocked.done()
        blocker.execute("COMMIT")
        await asyncio.wait_for(blocked, 10)
    finally:
        blocker.close()
