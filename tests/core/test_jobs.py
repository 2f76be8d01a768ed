"""The transactional outbox: enqueue, claim under a lease timed by the database's clock and
kept by a heartbeat, complete, retry, conflicts, dead letters, periodic jobs, wake-ups, workers.

Runs on SQLite by default and on PostgreSQL when ``RUXUE_TEST_DATABASE_URL`` is set. The
``test.effect`` job kind and its ``test_effect`` table come from ``effect_jobs.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core import audit, jobs, verification
from ruxue_core.audit import AuditEntry
from ruxue_core.checks import run_checks
from ruxue_core.clock import db_now
from ruxue_core.domain import Application, AuditEvent, Evidence, Job
from ruxue_core.domain.enums import JobStatus, Status
from ruxue_core.errors import Conflict, InvalidInput, PermanentPluginError
from ruxue_core.handlers import HANDLERS, PERIODIC
from ruxue_core.jobs import Apply, ClaimedJob, JobContext, JobHandler, LeaseLost, Worker
from ruxue_core.lifecycle import Case
from ruxue_core.plugins.contracts import VerificationRequest, VerificationResult
from ruxue_core.runtime import Runtime
from ruxue_core.services.applications import (
    Submitted,
    WithdrawApplication,
    submit_application,
    withdraw_application,
)
from ruxue_core.services.operations import sequence_handler
from ruxue_core.settings import Settings, WorkerSettings
from ruxue_core.testing.factories import GUARDIAN, submit_command
from ruxue_core.testing.fakes import FakeVerifier, FakeVerifierPlugin
from ruxue_core.uow import UnitOfWork

from .effect_jobs import KIND, effect_handler, effect_rows, insert_effect

LONG = 600.0
"""A lease (seconds) that no test outlives."""
PG_URL = os.environ.get("RUXUE_TEST_DATABASE_URL")


# --- helpers ---------------------------------------------------------------------------------


def with_worker(runtime: Runtime, **changes: Any) -> Runtime:
    """The same runtime (same engine) with different worker settings."""
    worker = runtime.settings.worker.model_copy(update=changes)
    settings = runtime.settings.model_copy(update={"worker": worker})
    return dataclasses.replace(runtime, settings=settings)


async def add_job(
    runtime: Runtime,
    key: str,
    *,
    kind: str = KIND,
    payload: dict[str, Any] | None = None,
    max_attempts: int | None = None,
    delay: timedelta | None = None,
) -> int:
    """Enqueue one job in its own unit of work and return its id."""
    target = runtime if max_attempts is None else with_worker(runtime, max_attempts=max_attempts)

    def enqueue(uow: UnitOfWork) -> None:
        uow.enqueue(kind, payload or {}, key=key, delay=delay)
        uow.commit()

    await target.write(enqueue)
    return (await job_by_key(runtime, key)).id_or_fail


@dataclasses.dataclass(frozen=True)
class JobRow:
    """A snapshot of one job row."""

    id: int | None
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    status: JobStatus
    attempts: int
    conflicts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str | None
    lease_until: datetime | None
    last_error: str | None
    finished_at: datetime | None

    @property
    def id_or_fail(self) -> int:
        """The id, which a stored row always has."""
        assert self.id is not None
        return self.id


def _snapshot(job: Job) -> JobRow:
    return JobRow(
        job.id,
        job.kind,
        dict(job.payload),
        job.idempotency_key,
        job.status,
        job.attempts,
        job.conflicts,
        job.max_attempts,
        job.run_after,
        job.lease_owner,
        job.lease_until,
        job.last_error,
        job.finished_at,
    )


async def job_by_key(runtime: Runtime, key: str) -> JobRow:
    """The job with idempotency key ``key``, freshly read."""
    return await runtime.read(
        lambda uow: _snapshot(
            uow.session.exec(select(Job).where(col(Job.idempotency_key) == key)).one()
        )
    )


async def job_by_id(runtime: Runtime, job_id: int) -> JobRow:
    """The job ``job_id``, freshly read."""
    return await runtime.read(
        lambda uow: _snapshot(uow.session.exec(select(Job).where(col(Job.id) == job_id)).one())
    )


async def all_jobs(runtime: Runtime) -> list[JobRow]:
    """Every job, in id order."""
    return await runtime.read(
        lambda uow: [_snapshot(j) for j in uow.session.exec(select(Job).order_by(col(Job.id)))]
    )


async def claim(runtime: Runtime, owner: str, *, lease: float = LONG) -> list[ClaimedJob]:
    """Claim up to 100 due jobs as ``owner``."""
    return await runtime.db.run(
        lambda session: jobs.claim(session, owner, limit=100, lease_seconds=lease)
    )


async def apply_and_complete(runtime: Runtime, job: ClaimedJob) -> None:
    """What a worker does after its handler returns: apply and complete in one transaction."""

    def finish(uow: UnitOfWork) -> None:
        insert_effect(job)(uow)
        jobs.complete(uow.session, job)
        uow.commit()

    await runtime.write(finish)


def dialect(runtime: Runtime) -> str:
    """The database's dialect name."""
    return runtime.db.engine.dialect.name


async def db_time(runtime: Runtime) -> datetime:
    """The database's clock (UTC), the one leases and retry times are timed by."""
    now = db_now(dialect(runtime))
    value: datetime = await runtime.read(
        lambda uow: uow.session.execute(sa.select(now)).scalar_one()
    )
    return value.replace(tzinfo=UTC)


async def set_job(runtime: Runtime, job_id: int, **values: Any) -> None:
    """Change columns of one job directly (expressions such as ``db_now`` allowed)."""

    def change(uow: UnitOfWork) -> None:
        uow.session.execute(sa.update(Job).where(col(Job.id) == job_id).values(**values))
        uow.commit()

    await runtime.write(change)


async def make_due(runtime: Runtime, job_id: int) -> None:
    """Pretend the backoff has elapsed: move the job's ``run_after`` into the past."""
    await set_job(runtime, job_id, run_after=db_now(dialect(runtime), plus_seconds=-1))


async def outstanding(runtime: Runtime) -> int:
    """Jobs pending or running, periodic ones aside."""
    return await runtime.read(lambda uow: jobs.outstanding(uow.session))


async def counts(runtime: Runtime) -> dict[JobStatus, int]:
    """Jobs per state."""
    return await runtime.read(lambda uow: jobs.counts(uow.session))


async def wait_until(check: Callable[[], Any], *, seconds: float = 20.0) -> None:
    """Poll the async ``check`` every 20 ms until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# --- enqueue -------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_by_key(runtime: Runtime) -> None:
    first = await add_job(runtime, "k-1", payload={"n": 1})
    again = await add_job(runtime, "k-1", payload={"n": 2}, kind="other.kind")
    assert again == first

    def twice(uow: UnitOfWork) -> None:  # twice inside one unit of work, too
        uow.enqueue(KIND, {"n": 3}, key="k-2")
        uow.enqueue(KIND, {"n": 4}, key="k-2")
        uow.commit()

    await runtime.write(twice)

    rows = await all_jobs(runtime)
    assert [(r.kind, r.payload) for r in rows] == [(KIND, {"n": 1}), (KIND, {"n": 3})]
    assert all(r.status is JobStatus.PENDING and r.attempts == 0 for r in rows)
    assert all(r.conflicts == 0 and r.max_attempts == 6 for r in rows)


async def test_enqueue_belongs_to_the_callers_transaction(runtime: Runtime) -> None:
    def forgotten(uow: UnitOfWork) -> None:
        uow.enqueue(KIND, {}, key="not-committed")  # a unit that never commits keeps nothing

    def failing(uow: UnitOfWork) -> None:
        uow.enqueue(KIND, {}, key="rolled-back")
        uow.session.flush()
        raise RuntimeError("the use case failed")

    await runtime.write(forgotten)
    with pytest.raises(RuntimeError):
        await runtime.write(failing)
    assert await all_jobs(runtime) == []


# --- claim and complete ----------------------------------------------------------------------


async def test_claim_leases_due_jobs_only(runtime: Runtime) -> None:
    due = await add_job(runtime, "due", payload={"x": "y"}, max_attempts=4)
    later = await add_job(runtime, "later", delay=timedelta(hours=1))

    before = await db_time(runtime)
    claimed = await claim(runtime, "worker-a", lease=30)
    after = await db_time(runtime)

    assert claimed == [ClaimedJob(due, KIND, {"x": "y"}, 1, 4, "worker-a")]
    row = await job_by_id(runtime, due)
    assert row.status is JobStatus.RUNNING
    assert row.lease_owner == "worker-a"
    assert row.lease_until is not None
    assert before + timedelta(seconds=30) <= row.lease_until <= after + timedelta(seconds=30)

    untouched = await job_by_id(runtime, later)
    assert (untouched.status, untouched.attempts, untouched.lease_owner) == (
        JobStatus.PENDING,
        0,
        None,
    )


async def test_claim_respects_the_limit_and_run_after_order(runtime: Runtime) -> None:
    ids = [await add_job(runtime, f"j{i}") for i in range(5)]
    first = await runtime.db.run(lambda s: jobs.claim(s, "a", limit=2, lease_seconds=LONG))
    assert [j.id for j in first] == ids[:2]
    rest = await claim(runtime, "b")
    assert [j.id for j in rest] == ids[2:]


async def test_a_claimed_job_is_not_claimed_again_while_its_lease_holds(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "one")
    assert [j.id for j in await claim(runtime, "a", lease=0.5)] == [job_id]
    assert await claim(runtime, "b") == []
    assert await claim(runtime, "a") == []  # not even by the same owner

    await asyncio.sleep(0.6)  # the lease expires: the job is claimable again
    retaken = await claim(runtime, "b")
    assert [(j.id, j.attempts, j.owner) for j in retaken] == [(job_id, 2, "b")]
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.lease_owner, row.attempts) == (JobStatus.RUNNING, "b", 2)


async def test_the_lease_is_compared_on_the_database_clock(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "clocked")
    [held] = await claim(runtime, "a")
    now = db_now(dialect(runtime))

    # The lease runs out a second from now by the database's clock: still held.
    await set_job(runtime, job_id, lease_until=db_now(dialect(runtime), plus_seconds=1))
    assert await claim(runtime, "b") == []
    # It ran out a millisecond ago by the database's clock: free to take.
    await set_job(runtime, job_id, lease_until=db_now(dialect(runtime), plus_seconds=-0.001))
    [taken] = await claim(runtime, "b")
    assert (taken.id, taken.attempts, taken.owner) == (job_id, 2, "b")

    # The new lease_until is the database's time plus the lease, not the caller's.
    row = await job_by_id(runtime, job_id)
    assert row.lease_until is not None
    in_db = await runtime.read(
        lambda uow: uow.session.execute(
            sa.select(col(Job.lease_until) > now).where(col(Job.id) == job_id)
        ).scalar_one()
    )
    assert in_db, "the lease ends after the database's now"
    with pytest.raises(LeaseLost):  # the first claim is no longer ours
        await runtime.write(lambda uow: jobs.complete(uow.session, held))


async def test_renew_and_heartbeat_extend_only_a_held_lease(runtime: Runtime) -> None:
    mine = await add_job(runtime, "mine")
    theirs = await add_job(runtime, "theirs")
    [a_job] = await runtime.db.run(lambda s: jobs.claim(s, "a", limit=1, lease_seconds=5))
    [b_job] = await claim(runtime, "b", lease=5)
    assert (a_job.id, b_job.id) == (mine, theirs)

    def renew(uow: UnitOfWork) -> bool:
        renewed = jobs.renew(uow.session, a_job, 100)
        uow.commit()
        return renewed

    before = await db_time(runtime)
    assert await runtime.write(renew)
    row = await job_by_id(runtime, mine)
    assert row.lease_until is not None and row.lease_until >= before + timedelta(seconds=100)

    stale = dataclasses.replace(a_job, attempts=a_job.attempts + 1)
    held = await runtime.db.run(lambda s: jobs.heartbeat(s, [a_job], 200))
    assert held == {mine}
    assert await runtime.db.run(lambda s: jobs.heartbeat(s, [stale], 200)) == set()
    assert await runtime.db.run(lambda s: jobs.heartbeat(s, [], 200)) == set()
    forged = dataclasses.replace(b_job, owner="a")  # a's heartbeat never renews b's lease
    assert await runtime.db.run(lambda s: jobs.heartbeat(s, [forged], 200)) == set()
    b_row = await job_by_id(runtime, theirs)
    assert b_row.lease_until is not None and b_row.lease_until < before + timedelta(seconds=10)


async def test_complete_marks_the_job_done_with_its_apply_step(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "one")
    [job] = await claim(runtime, "a")
    await apply_and_complete(runtime, job)

    row = await job_by_id(runtime, job_id)
    assert row.status is JobStatus.DONE
    assert row.finished_at is not None
    assert (row.lease_owner, row.lease_until, row.attempts) == (None, None, 1)
    assert await effect_rows(runtime) == [(job_id, "a")]
    assert await claim(runtime, "b") == []  # done is final

    with pytest.raises(LeaseLost):  # completing twice is refused, and changes nothing
        await apply_and_complete(runtime, job)
    assert await effect_rows(runtime) == [(job_id, "a")]


async def test_complete_after_takeover_raises_lease_lost_and_rolls_back_the_apply_step(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "one")
    [stale] = await claim(runtime, "a", lease=0.2)
    await asyncio.sleep(0.3)
    [fresh] = await claim(runtime, "b")
    assert (fresh.id, fresh.attempts) == (job_id, 2)

    with pytest.raises(LeaseLost):
        await apply_and_complete(runtime, stale)
    assert await effect_rows(runtime) == []  # a's effect went with the failed transaction
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.lease_owner) == (JobStatus.RUNNING, "b")

    await apply_and_complete(runtime, fresh)
    assert await effect_rows(runtime) == [(job_id, "b")]
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DONE


async def test_a_lease_guarded_step_after_a_takeover_keeps_nothing(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "guarded")
    [stale] = await claim(runtime, "a", lease=0.2)
    context = JobContext(runtime, stale, 0.2)
    await context.transaction(insert_effect(stale))
    assert await effect_rows(runtime) == [(job_id, "a")]  # while held, a step commits

    await asyncio.sleep(0.5)
    await claim(runtime, "b")
    with pytest.raises(LeaseLost):
        await context.transaction(insert_effect(stale))
    assert await effect_rows(runtime) == [(job_id, "a")]


async def test_a_worker_that_lost_its_lease_discards_its_result(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "slow")
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_handler(ctx: JobContext) -> Apply:
        entered.set()
        await release.wait()
        return insert_effect(ctx.job)

    # A worker whose heartbeat stalls (a frozen process, say): its short lease runs out.
    stalled = with_worker(runtime, lease_seconds=0.2, heartbeat_seconds=60.0)
    slow = Worker(stalled, {KIND: slow_handler}, worker_id="slow")
    fast = Worker(runtime, {KIND: effect_handler}, worker_id="fast")

    slow_run = asyncio.create_task(slow.run_once())
    await asyncio.wait_for(entered.wait(), 10)
    assert await fast.run_once() == 0  # the slow worker's lease still holds
    await asyncio.sleep(0.3)
    assert await fast.run_once() == 1  # expired: taken over and completed
    release.set()
    assert await asyncio.wait_for(slow_run, 10) == 1  # LeaseLost is handled, not raised

    assert await effect_rows(runtime) == [(job_id, "fast")]
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.DONE, 2, None)


async def test_the_heartbeat_keeps_the_lease_of_a_job_running_past_it(
    runtime: Runtime, effects: None
) -> None:
    lease = 2.0
    job_id = await add_job(runtime, "long")
    started, calls = asyncio.Event(), Counter[str]()

    async def long_handler(ctx: JobContext) -> Apply:
        calls[ctx.job.owner] += 1
        started.set()
        await asyncio.sleep(3 * lease)  # three leases long: only the heartbeat keeps it
        return insert_effect(ctx.job)

    beating = with_worker(runtime, lease_seconds=lease, heartbeat_seconds=lease / 4)
    holder = Worker(beating, {KIND: long_handler}, worker_id="holder")
    thief = Worker(runtime, {KIND: long_handler}, worker_id="thief")
    running = asyncio.create_task(holder.run_once())
    await asyncio.wait_for(started.wait(), 10)
    began = last_poll = time.monotonic()
    while not running.done():
        assert await thief.run_once() == 0, "the lease passed although the heartbeat ran"
        last_poll = time.monotonic()
        await asyncio.sleep(0.1)
    assert await running == 1
    assert last_poll - began > 2 * lease  # the thief polled long after a lease would have run out

    assert calls == Counter({"holder": 1})
    assert await effect_rows(runtime) == [(job_id, "holder")]
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.lease_owner) == (JobStatus.DONE, 1, None)


async def test_a_handler_returning_none_just_completes(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "noop")

    async def noop(ctx: JobContext) -> Apply | None:
        return None

    assert await Worker(runtime, {KIND: noop}).drain() == 1
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DONE


# --- conflicts ---------------------------------------------------------------------------------


async def test_a_conflict_requeues_the_job_without_spending_an_attempt(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "conflicted", max_attempts=1)
    seen: list[tuple[int, int]] = []

    async def racing(ctx: JobContext) -> Apply | None:
        row = await job_by_id(runtime, ctx.job.id)
        seen.append((ctx.job.attempts, row.conflicts))

        def step(uow: UnitOfWork) -> None:
            insert_effect(ctx.job)(uow)
            if len(seen) == 1:
                raise Conflict()  # lost an optimistic-locking race: the step is rolled back

        await ctx.transaction(step)
        return None

    worker = Worker(runtime, {KIND: racing}, worker_id="w")
    assert await worker.run_once() == 1
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.conflicts) == (JobStatus.PENDING, 0, 1)
    assert (row.lease_owner, row.last_error) == (None, None)
    assert await effect_rows(runtime) == []

    await wait_until(lambda: worker.run_once())  # due again within 50 ms
    row = await job_by_id(runtime, job_id)
    # One attempt allowed, and spent only once: a conflict never dead-letters.
    assert (row.status, row.attempts, row.conflicts) == (JobStatus.DONE, 1, 1)
    assert seen == [(1, 0), (1, 1)]
    assert await effect_rows(runtime) == [(job_id, "w")]


async def test_jobs_finishing_together_commit_together_yet_fail_alone(
    runtime: Runtime, effects: None
) -> None:
    """A batch's completions are committed as one group; when one job's final step loses a
    race, the others' effects still stand and only that job is re-queued."""
    ids = [await add_job(runtime, f"group-{n}") for n in range(4)]
    loser = ids[2]

    async def finishing(ctx: JobContext) -> Apply | None:
        def step(uow: UnitOfWork) -> None:
            insert_effect(ctx.job)(uow)
            if ctx.job.id == loser:
                raise Conflict()

        return step

    worker = Worker(runtime, {KIND: finishing}, worker_id="w")
    assert await worker.run_once() == 4
    rows = {row.id: row for row in await all_jobs(runtime)}
    assert [rows[i].status for i in ids] == [
        JobStatus.DONE,
        JobStatus.DONE,
        JobStatus.PENDING,
        JobStatus.DONE,
    ]
    assert rows[loser].conflicts == 1
    assert sorted(job_id for job_id, _ in await effect_rows(runtime)) == sorted(
        i for i in ids if i != loser
    )


async def test_endless_conflicts_end_as_a_failure(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "MAX_CONFLICTS", 2)
    job_id = await add_job(runtime, "livelock")

    async def always_conflicts(ctx: JobContext) -> Apply:
        raise Conflict()

    worker = Worker(runtime, {KIND: always_conflicts})

    async def dead() -> bool:
        await worker.run_once()
        return (await job_by_id(runtime, job_id)).status is JobStatus.DEAD

    await wait_until(dead)
    row = await job_by_id(runtime, job_id)
    assert (row.attempts, row.conflicts) == (1, 2)
    assert row.last_error is not None and "too many optimistic-locking conflicts" in row.last_error


# --- failures, backoff, dead letters ----------------------------------------------------------


def test_backoff_is_full_jitter_capped() -> None:
    policy = WorkerSettings(backoff_base=2.0, backoff_cap=30.0)
    for attempts in range(1, 12):
        ceiling = min(30.0, 2.0 * 2 ** (attempts - 1))
        delays = [jobs.backoff(attempts, policy) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays), attempts
        assert max(delays) > ceiling / 2  # spread over the whole range…
        assert min(delays) < ceiling / 2  # …not a fixed delay
    assert jobs.backoff(1000, policy) <= 30.0  # no overflow for huge counts


async def test_a_failing_job_is_retried_with_backoff_then_dead_lettered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    jitter: list[tuple[float, float]] = []

    def worst_case(low: float, high: float) -> float:
        jitter.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", worst_case)
    calls: list[int] = []

    async def flaky(ctx: JobContext) -> Apply:
        calls.append(ctx.job.attempts)
        raise RuntimeError(f"vendor timeout #{ctx.job.attempts}")

    runtime = with_worker(runtime, backoff_base=10.0, backoff_cap=15.0)
    worker = Worker(runtime, {KIND: flaky})
    job_id = await add_job(runtime, "flaky", max_attempts=3)

    for attempt, ceiling in ((1, 10.0), (2, 15.0)):  # 10·2¹ = 20 is capped at 15
        before = await db_time(runtime)
        assert await worker.run_once() == 1
        after = await db_time(runtime)
        row = await job_by_id(runtime, job_id)
        assert row.status is JobStatus.PENDING
        assert row.attempts == attempt
        assert row.last_error == f"RuntimeError: vendor timeout #{attempt}"
        assert (row.lease_owner, row.lease_until, row.finished_at) == (None, None, None)
        wait = timedelta(seconds=ceiling)
        assert before + wait <= row.run_after <= after + wait
        assert jitter[-1] == (0.0, ceiling)
        assert await worker.run_once() == 0  # backing off: not due yet
        await make_due(runtime, job_id)

    assert await worker.run_once() == 1
    row = await job_by_id(runtime, job_id)
    assert row.status is JobStatus.DEAD
    assert row.attempts == 3
    assert row.last_error == "RuntimeError: vendor timeout #3"
    assert row.finished_at is not None
    assert calls == [1, 2, 3]
    await make_due(runtime, job_id)
    assert await worker.run_once() == 0  # dead letters are never claimed


async def test_real_jitter_keeps_run_after_within_the_cap(runtime: Runtime) -> None:
    async def broken(ctx: JobContext) -> Apply:
        raise ConnectionError("refused")

    runtime = with_worker(runtime, backoff_base=4.0, backoff_cap=3.0)
    job_id = await add_job(runtime, "jitter")
    before = await db_time(runtime)
    assert await Worker(runtime, {KIND: broken}).run_once() == 1
    after = await db_time(runtime)
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts) == (JobStatus.PENDING, 1)
    assert before <= row.run_after <= after + timedelta(seconds=3)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermanentPluginError("template rejected"), "PermanentPluginError: template rejected"),
        (InvalidInput("坏数据", field="x"), "InvalidInput: [invalid_input] 坏数据"),
    ],
)
async def test_a_permanent_error_dead_letters_immediately(
    runtime: Runtime, error: Exception, expected: str
) -> None:
    async def refuse(ctx: JobContext) -> Apply:
        raise error

    job_id = await add_job(runtime, "permanent", max_attempts=6)
    assert await Worker(runtime, {KIND: refuse}).run_once() == 1
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.last_error) == (JobStatus.DEAD, 1, expected)
    assert row.finished_at is not None
    assert row.lease_owner is None


async def test_a_job_without_a_handler_is_dead_lettered(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "orphan", kind="nobody.handles")
    assert await Worker(runtime, {KIND: effect_handler}).run_once() == 1
    row = await job_by_id(runtime, job_id)
    assert row.status is JobStatus.DEAD
    assert row.last_error is not None
    assert "no handler for job kind 'nobody.handles'" in row.last_error


async def test_a_failing_apply_step_rolls_back_and_is_retried(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "apply-fails")

    async def half_done(ctx: JobContext) -> Apply:
        def apply(uow: UnitOfWork) -> None:
            insert_effect(ctx.job)(uow)
            raise RuntimeError("disk full")

        return apply

    assert await Worker(runtime, {KIND: half_done}).run_once() == 1
    assert await effect_rows(runtime) == []
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.last_error) == (
        JobStatus.PENDING,
        1,
        "RuntimeError: disk full",
    )


async def test_retry_dead_puts_a_dead_job_back(runtime: Runtime, effects: None) -> None:
    async def refuse(ctx: JobContext) -> Apply:
        raise PermanentPluginError("bad credentials")

    job_id = await add_job(runtime, "dead", max_attempts=2)
    assert await Worker(runtime, {KIND: refuse}).run_once() == 1
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DEAD

    def retry(uow: UnitOfWork) -> bool:
        retried = jobs.retry_dead(uow.session, job_id)
        uow.commit()
        return retried

    assert await runtime.write(retry)
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.conflicts, row.finished_at) == (
        JobStatus.PENDING,
        0,
        0,
        None,
    )
    assert row.run_after <= await db_time(runtime)

    assert await Worker(runtime, {KIND: effect_handler}, worker_id="w").drain() == 1
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts) == (JobStatus.DONE, 1)
    assert await effect_rows(runtime) == [(job_id, "w")]

    def retry_again(uow: UnitOfWork) -> tuple[bool, bool]:  # only dead jobs can be retried
        return jobs.retry_dead(uow.session, job_id), jobs.retry_dead(uow.session, 999_999)

    assert await runtime.write(retry_again) == (False, False)


async def test_counts_reports_jobs_per_status(runtime: Runtime, effects: None) -> None:
    assert await counts(runtime) == {}

    async def by_payload(ctx: JobContext) -> Apply:
        if ctx.job.payload["fate"] == "dead":
            raise PermanentPluginError("no")
        return insert_effect(ctx.job)

    for i in range(3):
        await add_job(runtime, f"done-{i}", payload={"fate": "done"})
    for i in range(2):
        await add_job(runtime, f"dead-{i}", payload={"fate": "dead"})
    assert await Worker(runtime, {KIND: by_payload}).drain() == 5
    await add_job(runtime, "running")
    assert len(await claim(runtime, "elsewhere")) == 1
    for i in range(4):
        await add_job(runtime, f"pending-{i}", delay=timedelta(hours=1))

    assert await counts(runtime) == {
        JobStatus.PENDING: 4,
        JobStatus.RUNNING: 1,
        JobStatus.DONE: 3,
        JobStatus.DEAD: 2,
    }
    assert await outstanding(runtime) == 5


# --- the periodic sequencer ------------------------------------------------------------------


async def test_the_periodic_job_is_one_row_per_kind_rescheduled_and_never_done(
    runtime: Runtime,
) -> None:
    def log_something(uow: UnitOfWork) -> None:
        uow.audit(AuditEntry("tester", "system", "test.periodic", "test", "p-1"))
        uow.commit()

    await runtime.write(log_something)
    assert PERIODIC[audit.SEQUENCE_KIND] == audit.SEQUENCE_EVERY
    periodic = {audit.SEQUENCE_KIND: 60.0}
    worker = Worker(runtime, {audit.SEQUENCE_KIND: sequence_handler}, periodic=periodic)

    before = await db_time(runtime)
    assert await worker.drain() == 1  # created due, run once, then not due for a minute
    after = await db_time(runtime)
    [row] = await all_jobs(runtime)
    assert (row.kind, row.idempotency_key, row.payload) == (
        audit.SEQUENCE_KIND,
        audit.SEQUENCE_KIND,
        {},
    )
    assert (row.status, row.attempts, row.lease_owner, row.finished_at) == (
        JobStatus.PENDING,
        0,
        None,
        None,
    )
    assert before + timedelta(seconds=60) <= row.run_after <= after + timedelta(seconds=60)
    positions = await runtime.read(
        lambda uow: list(uow.session.exec(select(AuditEvent.position)).all())
    )
    assert positions == [0], "the periodic job ran the sequencer"

    # Outstanding work leaves the always-pending periodic row out.
    assert await counts(runtime) == {JobStatus.PENDING: 1}
    assert await outstanding(runtime) == 0
    await add_job(runtime, "real-work", kind="nobody.handles", delay=timedelta(hours=1))
    assert await outstanding(runtime) == 1

    # Another worker (another process, a restart) finds the row and adds none.
    second = Worker(
        runtime, HANDLERS, periodic={audit.SEQUENCE_KIND: PERIODIC[audit.SEQUENCE_KIND]}
    )
    assert await second.drain() == 0
    await make_due(runtime, row.id_or_fail)
    assert await second.drain() == 1
    again = await job_by_id(runtime, row.id_or_fail)
    assert (again.status, again.attempts) == (JobStatus.PENDING, 0)
    kinds = Counter(j.kind for j in await all_jobs(runtime))
    assert kinds == Counter({audit.SEQUENCE_KIND: 1, "nobody.handles": 1})
    assert JobStatus.DONE not in await counts(runtime)


# --- workers ---------------------------------------------------------------------------------


async def test_worker_ids_name_host_and_process_and_are_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    ids = {Worker(runtime, {}).id for _ in range(3)}
    assert len(ids) == 3
    for worker_id in ids:
        assert re.fullmatch(rf".+-{os.getpid()}-[0-9a-f]{{8}}", worker_id), worker_id
    worker = Worker(runtime, {})
    stop = asyncio.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="ruxue_core.jobs"):
        await worker.run(stop)
    assert f"worker {worker.id} started (pid {os.getpid()})" in caplog.text


async def test_two_workers_share_1000_jobs_without_loss_or_duplicates(
    settings: Settings, runtime: Runtime, effects: None
) -> None:
    total = 1000

    def enqueue_all(uow: UnitOfWork) -> None:
        for i in range(total):
            uow.enqueue(KIND, {"i": i}, key=f"bulk-{i}")
        uow.commit()

    await runtime.write(enqueue_all)

    async def interleaving_handler(ctx: JobContext) -> Apply:
        await asyncio.sleep(0)  # let the other worker in between claim and completion
        return insert_effect(ctx.job)

    tuned = settings.worker.model_copy(update={"batch_size": 10, "poll_interval": 0.01})
    worker_settings = settings.model_copy(update={"worker": tuned})
    runtimes = [Runtime.create(worker_settings) for _ in range(2)]  # separate engines and pools
    assert runtimes[0].db.engine is not runtimes[1].db.engine
    handlers: dict[str, JobHandler] = {KIND: interleaving_handler}
    workers = [Worker(rt, handlers, worker_id=f"w{n}") for n, rt in enumerate(runtimes)]
    stop = asyncio.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        while (await counts(runtime)).get(JobStatus.DONE, 0) != total:
            assert time.monotonic() - started < 120, "workers did not finish"
            assert not any(t.done() for t in tasks), "a worker stopped early"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        for rt in runtimes:
            await rt.close()

    rows = await all_jobs(runtime)
    assert len(rows) == total
    assert all(r.status is JobStatus.DONE for r in rows)
    assert all(r.attempts == 1 for r in rows)  # every lease held (heartbeats): no re-runs
    effects_seen = await effect_rows(runtime)
    assert len(effects_seen) == total
    assert len({job_id for job_id, _ in effects_seen}) == total
    assert {job_id for job_id, _ in effects_seen} == {r.id for r in rows}
    per_worker = Counter(worker for _, worker in effects_seen)
    assert set(per_worker) == {"w0", "w1"}, per_worker  # both did some of the work


class ObservedWorker(Worker):
    """A worker that reports when a claim round found nothing (it is about to sleep)."""

    def __init__(self, runtime: Runtime, handlers: dict[str, JobHandler]) -> None:
        super().__init__(runtime, handlers)
        self.rounds = 0
        self.idle = asyncio.Event()

    async def claim_batch(self, limit: int) -> list[ClaimedJob]:
        claimed = await super().claim_batch(limit)
        self.rounds += 1
        if not claimed:
            self.idle.set()
        return claimed


async def test_a_commit_that_queues_jobs_sets_jobs_ready(runtime: Runtime) -> None:
    runtime.jobs_ready.clear()

    def no_jobs(uow: UnitOfWork) -> None:
        uow.audit(AuditEntry("tester", "system", "test.nothing", "test", "n"))
        uow.commit()

    await runtime.write(no_jobs)
    assert not runtime.jobs_ready.is_set()

    def queued_but_rolled_back(uow: UnitOfWork) -> None:
        uow.enqueue(KIND, {}, key="never")

    await runtime.write(queued_but_rolled_back)
    assert not runtime.jobs_ready.is_set()

    await add_job(runtime, "wake")
    assert runtime.jobs_ready.is_set()


async def test_an_idle_worker_wakes_for_a_new_job_long_before_its_poll(
    runtime: Runtime, effects: None
) -> None:
    worker = ObservedWorker(with_worker(runtime, poll_interval=30.0), {KIND: effect_handler})
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.idle.wait(), 10)  # nothing to do: sleeping for 30 s
        assert worker.rounds == 1
        job_id = await add_job(runtime, "wake-up")

        async def done() -> bool:
            return (await job_by_id(runtime, job_id)).status is JobStatus.DONE

        await asyncio.wait_for(wait_until(done), 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert await effect_rows(runtime) == [(job_id, worker.id)]


@pytest.mark.postgres_only
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (set RUXUE_TEST_DATABASE_URL)")
async def test_a_commit_through_another_runtime_wakes_its_worker_by_notify(
    settings: Settings, runtime: Runtime, effects: None
) -> None:
    tuned = settings.worker.model_copy(update={"poll_interval": 30.0})
    other = Runtime.create(settings.model_copy(update={"worker": tuned}))  # as another process
    worker = ObservedWorker(other, {KIND: effect_handler})
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.idle.wait(), 10)

        async def listening() -> bool:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN ruxue_jobs'"
            found: int = await runtime.read(
                lambda uow: uow.session.execute(sa.text(query)).one()[0]
            )
            return found > 0

        await wait_until(listening, seconds=10)
        job_id = await add_job(runtime, "notified")  # committed through the other runtime

        async def done() -> bool:
            return (await job_by_id(runtime, job_id)).status is JobStatus.DONE

        await asyncio.wait_for(wait_until(done), 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await other.close()
    assert await effect_rows(runtime) == [(job_id, worker.id)]


async def test_run_stops_promptly_when_the_stop_event_is_set(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "before-stop")
    worker = Worker(with_worker(runtime, poll_interval=60.0), {KIND: effect_handler})
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(200):  # the job is done, then the worker idles in its 60 s poll sleep
        if (await job_by_id(runtime, job_id)).status is JobStatus.DONE:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    assert not task.done()

    stopping = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 2)
    assert time.monotonic() - stopping < 1.0
    assert await effect_rows(runtime) == [(job_id, worker.id)]


async def test_run_with_the_stop_event_already_set_claims_nothing(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "untouched")
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(Worker(runtime, {KIND: effect_handler}).run(stop), 2)
    assert (await job_by_id(runtime, job_id)).status is JobStatus.PENDING


async def test_run_survives_a_failing_claim(
    runtime: Runtime, effects: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await add_job(runtime, "after-outage")
    real_claim: Callable[..., list[ClaimedJob]] = jobs.claim
    outages = [1, 2]

    def flaky_claim(*args: Any, **kwargs: Any) -> list[ClaimedJob]:
        if outages:
            outages.pop()
            raise ConnectionError("database restarting")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(jobs, "claim", flaky_claim)
    worker = Worker(with_worker(runtime, poll_interval=0.01), {KIND: effect_handler})
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(200):
            if (await job_by_id(runtime, job_id)).status is JobStatus.DONE:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)
    assert outages == []
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DONE


# --- a verification job racing a change to its application ------------------------------------


SEASON_CHECKS = 5
"""How many checks the sample season's rules need per application."""


class WithdrawingVerifier(FakeVerifier):
    """While checking, the family withdraws the application (between the job's two steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.runtime: Runtime | None = None
        self.application_id = 0
        self.withdrawn = False

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        assert self.runtime is not None
        if not self.withdrawn:  # the first of the concurrent checks withdraws
            self.withdrawn = True
            withdrawn = await withdraw_application(
                self.runtime, WithdrawApplication(self.application_id), GUARDIAN
            )
            assert withdrawn.status is Status.WITHDRAWN
        return await super().verify(request)


async def application_state(runtime: Runtime, application_id: int) -> tuple[Status, int, int]:
    """The application's status and version, and how many evidence rows it has."""

    def read(uow: UnitOfWork) -> tuple[Status, int, int]:
        application = uow.session.get(Application, application_id)
        assert application is not None
        evidence = uow.session.exec(
            select(Evidence).where(col(Evidence.application_id) == application_id)
        ).all()
        return application.status, application.version, len(evidence)

    return await runtime.read(read)


async def verify_job(runtime: Runtime, submitted: Submitted) -> JobRow:
    return await job_by_key(runtime, f"verify:{submitted.application_id}:v1")


async def test_an_application_withdrawn_during_verification_gets_no_outcome(
    settings: Settings, season: str
) -> None:
    verifier = WithdrawingVerifier()
    rt = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake"]}),
        extra_plugins=[FakeVerifierPlugin(verifier)],
    )
    verifier.runtime = rt
    try:
        submitted = await submit_application(rt, submit_command(season), GUARDIAN)
        verifier.application_id = submitted.application_id
        handlers = {"verification.run": verification.run_handler}
        assert await Worker(rt, handlers).run_once() >= 1
        job = await verify_job(rt, submitted)
        state = await application_state(rt, submitted.application_id)
    finally:
        await rt.close()
    assert len(verifier.requests) == SEASON_CHECKS
    assert (job.status, job.attempts, job.conflicts) == (JobStatus.DONE, 1, 0)
    # submitted → verifying (v2) → withdrawn (v3); the check's outcome was not applied.
    assert state == (Status.WITHDRAWN, 3, 0)


async def test_an_application_changed_during_the_checks_is_concluded_as_stored_now(
    settings: Settings, season: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = FakeVerifier()
    rt = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake"]}),
        extra_plugins=[FakeVerifierPlugin(verifier)],
    )
    real_run_checks = run_checks

    async def changing_run_checks(*args: Any, **kwargs: Any) -> list[VerificationResult]:
        """While the checks run, someone else changes the (still verifying) application."""
        results = await real_run_checks(*args, **kwargs)

        def bump(uow: UnitOfWork) -> None:
            uow.session.connection().execute(
                sa.update(Application).values(version=col(Application.version) + 1)
            )
            uow.commit()

        await rt.write(bump)
        return results

    monkeypatch.setattr(verification, "run_checks", changing_run_checks)
    try:
        submitted = await submit_application(rt, submit_command(season), GUARDIAN)
        worker = Worker(rt, {"verification.run": verification.run_handler}, worker_id="v")
        assert await worker.run_once() >= 1
        job = await verify_job(rt, submitted)
        state = await application_state(rt, submitted.application_id)
    finally:
        await rt.close()
    assert (job.status, job.attempts, job.conflicts) == (JobStatus.DONE, 1, 0)
    assert state == (Status.SCHOOL_REVIEW, 4, SEASON_CHECKS)  # concluded on the stored version


async def test_a_conflicting_job_is_retried_and_its_application_leaves_verifying(
    settings: Settings, season: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = FakeVerifier()
    rt = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake"]}),
        extra_plugins=[FakeVerifierPlugin(verifier)],
    )
    real_final_read = verification._unchanged_or_reloaded
    finals = 0

    def racing_final_read(uow: UnitOfWork, loaded: Case) -> Case | None:
        """The final step's read of the case: right after the first one, someone else
        changes the application (PostgreSQL: a real concurrent commit; SQLite has one writer,
        so the change is made in the step's own transaction, which the conflict then rolls
        back)."""
        nonlocal finals
        case = real_final_read(uow, loaded)
        finals += 1
        assert case is not None
        if finals == 1:
            bump = (
                sa.update(Application)
                .where(col(Application.id) == case.id)
                .values(version=col(Application.version) + 1)
            )
            if rt.db.postgres:
                with rt.db.engine.begin() as other:
                    other.execute(bump)
            else:  # past the ORM: the loaded case keeps the version it read
                uow.session.connection().execute(bump)
        return case

    monkeypatch.setattr(verification, "_unchanged_or_reloaded", racing_final_read)
    try:
        submitted = await submit_application(rt, submit_command(season), GUARDIAN)
        worker = Worker(rt, {"verification.run": verification.run_handler}, worker_id="v")
        assert await worker.run_once() >= 1
        job = await verify_job(rt, submitted)
        assert (job.status, job.attempts, job.conflicts) == (JobStatus.PENDING, 0, 1)
        status, _, evidence = await application_state(rt, submitted.application_id)
        assert (status, evidence) == (Status.VERIFYING, 0), "the conflicting step kept nothing"

        async def settled() -> bool:
            await worker.run_once()
            return (await verify_job(rt, submitted)).status is not JobStatus.PENDING

        await wait_until(settled)
        job = await verify_job(rt, submitted)
        state = await application_state(rt, submitted.application_id)
    finally:
        await rt.close()
    assert finals == 2  # the final step ran twice
    assert len(verifier.requests) == 2 * SEASON_CHECKS
    assert (job.status, job.attempts, job.conflicts) == (JobStatus.DONE, 1, 1)
    status, version, evidence = state
    assert status is Status.SCHOOL_REVIEW  # every check matched: on to the school
    assert evidence == SEASON_CHECKS
    assert version == (4 if rt.db.postgres else 3)  # the concurrent bump stays on PostgreSQL
