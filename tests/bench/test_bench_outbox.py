"""Outbox throughput: draining trivial jobs with one worker against two concurrent workers.

Each repetition enqueues ``JOBS`` jobs whose handler does nothing, then times how long one
``Worker`` takes to drain them, and how long two take, each on its own ``Runtime`` (its own
engine and connection pool, as two ``ruxue worker`` processes would have) but in this one
event loop: the ratio shows how the database takes two claimers, not what a second CPU adds.
The figures are the cost of the outbox itself: claim, complete and commit. Runs on the test
database: SQLite by default, PostgreSQL when ``RUXUE_TEST_DATABASE_URL`` is set.

Prints median jobs per second and the two-to-one ratio (run with ``-s``); machines are noisy,
so compare the ratio, and never turn a figure into a pass/fail threshold. Asserts that every
job was done exactly once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core import jobs
from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.jobs import Apply, JobContext, JobHandler, Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork

JOBS: Final = 500
REPETITIONS: Final = 3
KIND: Final = "bench.noop"


async def noop(context: JobContext) -> Apply | None:
    """A job with no I/O and no database effect of its own."""
    return None


HANDLERS: Final[Mapping[str, JobHandler]] = {KIND: noop}


async def enqueue(runtime: Runtime, label: str) -> None:
    """``JOBS`` due jobs, written in one transaction."""

    def write(uow: UnitOfWork) -> None:
        for i in range(JOBS):
            uow.enqueue(KIND, {"i": i}, key=f"{label}-{i}")
        uow.commit()

    await runtime.write(write)


async def drain(runtimes: Sequence[Runtime], label: str) -> float:
    """Seconds for one worker per runtime, running concurrently, to drain the queue."""
    workers = [Worker(rt, HANDLERS, worker_id=f"{label}-w{n}") for n, rt in enumerate(runtimes)]
    start = time.perf_counter()
    processed = await asyncio.gather(*(worker.drain() for worker in workers))
    elapsed = time.perf_counter() - start
    assert sum(processed) == JOBS, processed  # each job claimed exactly once
    return elapsed


async def settle(runtime: Runtime) -> None:
    """Check every job is done, then delete them so each repetition starts from the same table."""

    def check_and_delete(uow: UnitOfWork) -> None:
        assert jobs.counts(uow.session) == {JobStatus.DONE: JOBS}
        uow.session.execute(sa.delete(Job).where(col(Job.kind) == KIND))
        uow.commit()

    await runtime.write(check_and_delete)


async def test_one_worker_against_two(settings: Settings, runtime: Runtime) -> None:
    """Jobs per second draining ``JOBS`` trivial jobs with one worker and with two."""
    runtimes = [Runtime.create(settings) for _ in range(2)]
    seconds: dict[int, list[float]] = {1: [], 2: []}
    try:
        for rep in range(REPETITIONS):
            for count in (1, 2) if rep % 2 == 0 else (2, 1):
                label = f"bench-{rep}-{count}"
                await enqueue(runtime, label)
                seconds[count].append(await drain(runtimes[:count], label))
                await settle(runtime)
    finally:
        for rt in runtimes:
            await rt.close()

    rate = {count: JOBS / statistics.median(values) for count, values in seconds.items()}
    backend = runtime.db.engine.dialect.name
    print(
        f"outbox drain of {JOBS} jobs ({backend}, median of {REPETITIONS})"
        f"   1 worker {rate[1]:7.0f} jobs/s   2 workers {rate[2]:7.0f} jobs/s"
        f"   2/1 {rate[2] / rate[1]:5.2f}x"
    )
