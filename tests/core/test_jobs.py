"""The transactional outbox: enqueue, claim under a lease, complete, retry, dead-letter, workers.

Runs on SQLite by default and on PostgreSQL when ``RUXUE_TEST_DATABASE_URL`` is set. The
``test.effect`` job kind and its ``test_effect`` table come from ``effect_jobs.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core import jobs
from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import InvalidInput, PermanentPluginError
from ruxue_core.jobs import Apply, ClaimedJob, JobHandler, LeaseLost, Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings, WorkerSettings
from ruxue_core.uow import UnitOfWork

from .effect_jobs import KIND, effect_handler, effect_rows, insert_effect

LONG = timedelta(minutes=10)


async def apply_and_complete(runtime: Runtime, job: ClaimedJob) -> None:
    """What a worker does after its handler returns: apply and complete in one transaction."""
    async with runtime.unit_of_work() as uow:
        await insert_effect(job)(uow)
        await jobs.complete(uow.session, job)
        await uow.commit()


async def add_job(
    runtime: Runtime,
    key: str,
    *,
    kind: str = KIND,
    payload: dict[str, Any] | None = None,
    max_attempts: int = 6,
    delay: timedelta | None = None,
) -> int:
    """Enqueue one job in its own transaction and return its id."""
    async with runtime.unit_of_work() as uow:
        await jobs.enqueue(
            uow.session,
            kind,
            payload or {},
            key=key,
            max_attempts=max_attempts,
            delay=delay,
        )
        await uow.commit()
    return (await job_by_key(runtime, key)).id_or_fail


@dataclasses.dataclass(frozen=True)
class JobRow:
    """A snapshot of one job row."""

    id: int | None
    kind: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
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
        job.status,
        job.attempts,
        job.max_attempts,
        job.run_after,
        job.lease_owner,
        job.lease_until,
        job.last_error,
        job.finished_at,
    )


async def job_by_key(runtime: Runtime, key: str) -> JobRow:
    """The job with idempotency key ``key``, freshly read."""
    async with runtime.db.session(read_only=True) as session:
        job = (await session.exec(select(Job).where(col(Job.idempotency_key) == key))).one()
        return _snapshot(job)


async def job_by_id(runtime: Runtime, job_id: int) -> JobRow:
    """The job ``job_id``, freshly read."""
    async with runtime.db.session(read_only=True) as session:
        job = (await session.exec(select(Job).where(col(Job.id) == job_id))).one()
        return _snapshot(job)


async def all_jobs(runtime: Runtime) -> list[JobRow]:
    """Every job, in id order."""
    async with runtime.db.session(read_only=True) as session:
        rows = (await session.exec(select(Job).order_by(col(Job.id)))).all()
        return [_snapshot(job) for job in rows]


async def claim(runtime: Runtime, owner: str, *, lease: timedelta = LONG) -> list[ClaimedJob]:
    """Claim up to 100 due jobs as ``owner``."""
    async with runtime.db.session() as session:
        return await jobs.claim(
            session, owner, limit=100, lease=lease, postgres=runtime.db.postgres
        )


async def make_due(runtime: Runtime, job_id: int) -> None:
    """Pretend the backoff has elapsed: move the job's ``run_after`` into the past."""
    async with runtime.db.session() as session:
        connection = await session.connection()
        await connection.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


def with_worker(runtime: Runtime, **changes: Any) -> Runtime:
    """The same runtime (same engine) with different worker settings."""
    worker = runtime.settings.worker.model_copy(update=changes)
    settings = runtime.settings.model_copy(update={"worker": worker})
    return dataclasses.replace(runtime, settings=settings)


# --- enqueue -------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_by_key(runtime: Runtime) -> None:
    first = await add_job(runtime, "k-1", payload={"n": 1})
    again = await add_job(runtime, "k-1", payload={"n": 2}, kind="other.kind")
    assert again == first

    async with runtime.unit_of_work() as uow:  # twice inside one transaction, too
        await jobs.enqueue(uow.session, KIND, {"n": 3}, key="k-2")
        await jobs.enqueue(uow.session, KIND, {"n": 4}, key="k-2")
        await uow.commit()

    rows = await all_jobs(runtime)
    assert [(r.kind, r.payload) for r in rows] == [(KIND, {"n": 1}), (KIND, {"n": 3})]
    assert all(r.status is JobStatus.PENDING and r.attempts == 0 for r in rows)


async def test_enqueue_belongs_to_the_callers_transaction(runtime: Runtime) -> None:
    async with runtime.unit_of_work() as uow:
        await jobs.enqueue(uow.session, KIND, {}, key="rolled-back")
        # leaving without commit rolls the whole unit of work back
    assert await all_jobs(runtime) == []


# --- claim and complete ----------------------------------------------------------------------


async def test_claim_leases_due_jobs_only(runtime: Runtime) -> None:
    due = await add_job(runtime, "due", payload={"x": "y"}, max_attempts=4)
    later = await add_job(runtime, "later", delay=timedelta(hours=1))

    before = utcnow()
    claimed = await claim(runtime, "worker-a", lease=timedelta(seconds=30))
    after = utcnow()

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
    async with runtime.db.session() as session:
        first = await jobs.claim(session, "a", limit=2, lease=LONG, postgres=runtime.db.postgres)
    assert [j.id for j in first] == ids[:2]
    rest = await claim(runtime, "b")
    assert [j.id for j in rest] == ids[2:]


async def test_a_claimed_job_is_not_claimed_again_while_its_lease_holds(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "one")
    assert [j.id for j in await claim(runtime, "a", lease=timedelta(seconds=0.5))] == [job_id]
    assert await claim(runtime, "b") == []
    assert await claim(runtime, "a") == []  # not even by the same owner

    await asyncio.sleep(0.6)  # the lease expires: the job is claimable again
    retaken = await claim(runtime, "b")
    assert [(j.id, j.attempts, j.owner) for j in retaken] == [(job_id, 2, "b")]
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.lease_owner, row.attempts) == (JobStatus.RUNNING, "b", 2)


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
    [stale] = await claim(runtime, "a", lease=timedelta(milliseconds=200))
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


async def test_a_worker_that_lost_its_lease_discards_its_result(
    runtime: Runtime, effects: None
) -> None:
    job_id = await add_job(runtime, "slow")
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_handler(rt: Runtime, job: ClaimedJob) -> Apply:
        entered.set()
        await release.wait()
        return insert_effect(job)

    slow = Worker(with_worker(runtime, lease_seconds=0.2), {KIND: slow_handler}, worker_id="slow")
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


async def test_a_handler_returning_none_just_completes(runtime: Runtime) -> None:
    job_id = await add_job(runtime, "noop")

    async def noop(rt: Runtime, job: ClaimedJob) -> Apply | None:
        return None

    assert await Worker(runtime, {KIND: noop}).drain() == 1
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DONE


# --- failures, backoff, dead letters ----------------------------------------------------------


def test_backoff_is_full_jitter_capped() -> None:
    policy = WorkerSettings(backoff_base=2.0, backoff_cap=30.0)
    for attempts in range(1, 12):
        ceiling = min(30.0, 2.0 * 2 ** (attempts - 1))
        delays = [jobs.backoff(attempts, policy).total_seconds() for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays), attempts
        assert max(delays) > ceiling / 2  # spread over the whole range…
        assert min(delays) < ceiling / 2  # …not a fixed delay
    assert jobs.backoff(1000, policy) <= timedelta(seconds=30)  # no overflow for huge counts


async def test_a_failing_job_is_retried_with_backoff_then_dead_lettered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    jitter: list[tuple[float, float]] = []

    def worst_case(low: float, high: float) -> float:
        jitter.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", worst_case)
    calls: list[int] = []

    async def flaky(rt: Runtime, job: ClaimedJob) -> Apply:
        calls.append(job.attempts)
        raise RuntimeError(f"vendor timeout #{job.attempts}")

    runtime = with_worker(runtime, backoff_base=10.0, backoff_cap=15.0)
    worker = Worker(runtime, {KIND: flaky})
    job_id = await add_job(runtime, "flaky", max_attempts=3)

    for attempt, ceiling in ((1, 10.0), (2, 15.0)):  # 10·2¹ = 20 is capped at 15
        before = utcnow()
        assert await worker.run_once() == 1
        after = utcnow()
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
    async def broken(rt: Runtime, job: ClaimedJob) -> Apply:
        raise ConnectionError("refused")

    runtime = with_worker(runtime, backoff_base=4.0, backoff_cap=3.0)
    job_id = await add_job(runtime, "jitter")
    before = utcnow()
    assert await Worker(runtime, {KIND: broken}).run_once() == 1
    after = utcnow()
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
    async def refuse(rt: Runtime, job: ClaimedJob) -> Apply:
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

    async def half_done(rt: Runtime, job: ClaimedJob) -> Apply:
        async def apply(uow: UnitOfWork) -> None:
            await insert_effect(job)(uow)
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
    async def refuse(rt: Runtime, job: ClaimedJob) -> Apply:
        raise PermanentPluginError("bad credentials")

    job_id = await add_job(runtime, "dead", max_attempts=2)
    assert await Worker(runtime, {KIND: refuse}).run_once() == 1
    assert (await job_by_id(runtime, job_id)).status is JobStatus.DEAD

    async with runtime.unit_of_work() as uow:
        assert await jobs.retry_dead(uow.session, job_id)
        await uow.commit()
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts, row.finished_at) == (JobStatus.PENDING, 0, None)
    assert row.run_after <= utcnow()

    assert await Worker(runtime, {KIND: effect_handler}, worker_id="w").drain() == 1
    row = await job_by_id(runtime, job_id)
    assert (row.status, row.attempts) == (JobStatus.DONE, 1)
    assert await effect_rows(runtime) == [(job_id, "w")]

    async with runtime.unit_of_work() as uow:  # only dead jobs can be retried
        assert not await jobs.retry_dead(uow.session, job_id)
        assert not await jobs.retry_dead(uow.session, 999_999)


async def test_counts_reports_jobs_per_status(runtime: Runtime, effects: None) -> None:
    async with runtime.db.session(read_only=True) as session:
        assert await jobs.counts(session) == {}

    async def by_payload(rt: Runtime, job: ClaimedJob) -> Apply:
        if job.payload["fate"] == "dead":
            raise PermanentPluginError("no")
        return insert_effect(job)

    for i in range(3):
        await add_job(runtime, f"done-{i}", payload={"fate": "done"})
    for i in range(2):
        await add_job(runtime, f"dead-{i}", payload={"fate": "dead"})
    assert await Worker(runtime, {KIND: by_payload}).drain() == 5
    await add_job(runtime, "running")
    assert len(await claim(runtime, "elsewhere")) == 1
    for i in range(4):
        await add_job(runtime, f"pending-{i}", delay=timedelta(hours=1))

    async with runtime.db.session(read_only=True) as session:
        assert await jobs.counts(session) == {
            JobStatus.PENDING: 4,
            JobStatus.RUNNING: 1,
            JobStatus.DONE: 3,
            JobStatus.DEAD: 2,
        }


# --- workers ---------------------------------------------------------------------------------


async def test_two_workers_share_1000_jobs_without_loss_or_duplicates(
    settings: Settings, runtime: Runtime, effects: None
) -> None:
    total = 1000
    async with runtime.unit_of_work() as uow:
        for i in range(total):
            await jobs.enqueue(uow.session, KIND, {"i": i}, key=f"bulk-{i}")
        await uow.commit()

    async def interleaving_handler(rt: Runtime, job: ClaimedJob) -> Apply:
        await asyncio.sleep(0)  # let the other worker in between claim and completion
        return insert_effect(job)

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
        while True:
            async with runtime.db.session(read_only=True) as session:
                if (await jobs.counts(session)).get(JobStatus.DONE, 0) == total:
                    break
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
    assert all(r.attempts == 1 for r in rows)  # the lease (60 s) never expired: no re-runs
    effects_seen = await effect_rows(runtime)
    assert len(effects_seen) == total
    assert len({job_id for job_id, _ in effects_seen}) == total
    assert {job_id for job_id, _ in effects_seen} == {r.id for r in rows}
    per_worker = Counter(worker for _, worker in effects_seen)
    assert set(per_worker) == {"w0", "w1"}, per_worker  # both did some of the work


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
    real_claim: Callable[..., Any] = jobs.claim
    outages = [1, 2]

    async def flaky_claim(*args: Any, **kwargs: Any) -> list[ClaimedJob]:
        if outages:
            outages.pop()
            raise ConnectionError("database restarting")
        result: list[ClaimedJob] = await real_claim(*args, **kwargs)
        return result

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
