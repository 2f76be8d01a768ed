"""The ``test.effect`` job kind shared by the outbox tests, and a worker process that runs it.

A job of ``KIND`` has one effect: a row ``(job_id, worker)`` in ``test_effect``, a test-only table
without a unique key, so a job applied twice shows up as two rows. ``test_jobs.py`` and
``test_worker_crash.py`` import the table's helpers from here (the ``effects`` fixture in this
directory's ``conftest.py`` creates and drops the table).

Run as a script, this module is a Ruxue worker in its own OS process, driven by
``test_worker_crash.py``: ``python effect_jobs.py crash|work WORKER_ID``; settings come from
``RUXUE_*`` environment variables, exactly as for ``ruxue worker``.

``crash``: the handler of ``test.effect`` prints ``claimed <job id>`` and then hangs, holding its
lease until the test kills the process.

``work``: prints ``ready``, waits for a ``go`` line on stdin (so that competing processes start
together), then runs jobs of ``test.effect`` (one row in ``test_effect`` each) until no job is
pending or running, prints ``done <jobs run>`` and exits 0.

The script is run by path, so this module imports nothing from the tests.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from ruxue_core import jobs
from ruxue_core.domain.enums import JobStatus
from ruxue_core.jobs import Apply, ClaimedJob, JobHandler, Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork

KIND = "test.effect"
DEADLINE_SECONDS = 120.0

CREATE_EFFECTS = "CREATE TABLE test_effect (job_id integer NOT NULL, worker text NOT NULL)"
DROP_EFFECTS = "DROP TABLE IF EXISTS test_effect"


# ---- the effects table ----------------------------------------------------------------------


@asynccontextmanager
async def effects_table(runtime: Runtime) -> AsyncIterator[None]:
    """Create ``test_effect`` (dropping any leftover first) and drop it on exit."""
    async with runtime.db.engine.begin() as connection:
        await connection.execute(sa.text(DROP_EFFECTS))
        await connection.execute(sa.text(CREATE_EFFECTS))
    try:
        yield
    finally:
        async with runtime.db.engine.begin() as connection:
            await connection.execute(sa.text(DROP_EFFECTS))


def insert_effect(job: ClaimedJob) -> Apply:
    """An ``Apply`` step recording that ``job`` took effect, and which worker applied it."""

    async def apply(uow: UnitOfWork) -> None:
        connection = await uow.session.connection()
        await connection.execute(
            sa.text("INSERT INTO test_effect (job_id, worker) VALUES (:job_id, :worker)"),
            {"job_id": job.id, "worker": job.owner},
        )

    return apply


async def effect_handler(runtime: Runtime, job: ClaimedJob) -> Apply:
    """The handler of ``KIND``: no I/O, one effect row, applied with the completion."""
    return insert_effect(job)


async def effect_rows(runtime: Runtime) -> list[tuple[int, str]]:
    """Every ``(job_id, worker)`` row of the effects table."""
    async with runtime.db.engine.connect() as connection:
        result = await connection.execute(
            sa.text("SELECT job_id, worker FROM test_effect ORDER BY job_id")
        )
        return [(int(row[0]), str(row[1])) for row in result.all()]


# ---- the worker process ---------------------------------------------------------------------


async def hang(runtime: Runtime, job: ClaimedJob) -> Apply:
    """Announce the claim, then never finish."""
    print(f"claimed {job.id}", flush=True)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def yielding_effect_handler(runtime: Runtime, job: ClaimedJob) -> Apply:
    """:func:`effect_handler`, after yielding to the event loop once."""
    await asyncio.sleep(0)
    return insert_effect(job)


async def crash(runtime: Runtime, worker_id: str) -> int:
    worker = Worker(runtime, {KIND: hang}, worker_id=worker_id)
    await worker.run(asyncio.Event())
    return 1


async def work(runtime: Runtime, worker_id: str) -> int:
    handlers: dict[str, JobHandler] = {KIND: yielding_effect_handler}
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
