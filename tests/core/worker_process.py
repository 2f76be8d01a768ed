"""A Ruxue worker in its own OS process, driven by ``test_worker_crash.py``.

Usage: ``python worker_process.py crash|work WORKER_ID``; settings come from ``RUXUE_*``
environment variables, exactly as for ``ruxue worker``.

``crash``: the handler of ``test.effect`` prints ``claimed <job id>`` and then hangs, holding its
lease until the test kills the process.

``work``: prints ``ready``, waits for a ``go`` line on stdin (so that competing processes start
together), then runs jobs of ``test.effect`` (one row in ``test_effect`` each) until no job is
pending or running, prints ``done <jobs run>`` and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
import time

import sqlalchemy as sa

from ruxue_core import jobs
from ruxue_core.domain.enums import JobStatus
from ruxue_core.jobs import Apply, ClaimedJob, JobHandler, Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork

KIND = "test.effect"
DEADLINE_SECONDS = 120.0


async def hang(runtime: Runtime, job: ClaimedJob) -> Apply:
    """Announce the claim, then never finish."""
    print(f"claimed {job.id}", flush=True)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def insert_effect(runtime: Runtime, job: ClaimedJob) -> Apply:
    """Record one effect row for the job, naming the worker that applied it."""
    await asyncio.sleep(0)

    async def apply(uow: UnitOfWork) -> None:
        connection = await uow.session.connection()
        await connection.execute(
            sa.text("INSERT INTO test_effect (job_id, worker) VALUES (:job_id, :worker)"),
            {"job_id": job.id, "worker": job.owner},
        )

    return apply


async def crash(runtime: Runtime, worker_id: str) -> int:
    worker = Worker(runtime, {KIND: hang}, worker_id=worker_id)
    await worker.run(asyncio.Event())
    return 1


async def work(runtime: Runtime, worker_id: str) -> int:
    handlers: dict[str, JobHandler] = {KIND: insert_effect}
    worker = Worker(runtime, handlers, worker_id=worker_id)
    print("ready", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        return 2
    deadline = time.monotonic() + DEADLINE_SECONDS
    ran = 0
    while time.monotonic() < deadline:
        claimed = await worker.run_once()
        ran += claimed
        if claimed:
            continue
        async with runtime.db.session(read_only=True) as session:
            counts = await jobs.counts(session)
        if not counts.get(JobStatus.PENDING) and not counts.get(JobStatus.RUNNING):
            print(f"done {ran}", flush=True)
            return 0
        await asyncio.sleep(runtime.settings.worker.poll_interval)
    print(f"timed out after {ran}", flush=True)
    return 1


async def main(mode: str, worker_id: str) -> int:
    runtime = Runtime.create(Settings())
    try:
        if mode == "crash":
            return await crash(runtime, worker_id)
        return await work(runtime, worker_id)
    finally:
        await runtime.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
