"""The ``test.effect`` job kind shared by the outbox tests, and a worker process that runs it.

A job of ``KIND`` has one effect: a row ``(job_id, worker)`` in ``test_effect``, a test-only table
without a unique key, so a job applied twice shows up as two rows. ``test_jobs.py`` and
``test_worker_crash.py`` import the table's helpers from here (the ``effects`` fixture in this
directory's ``conftest.py`` creates and drops the table).

Run as a script, this module is a Ruxue worker in its own OS process, driven by
``test_worker_crash.py``: ``python effect_jobs.py crash|work WORKER_ID``; settings come from
``RUXUE_*`` environment variables, exactly as for ``ruxue worker``.

``crash``: the handler of ``test.effect`` prints ``claimed <job id>`` and then hangs, its worker
renewing the lease by heartbeat until the test kills the process.

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
from sqlmodel import Session

from ruxue_core import jobs
from ruxue_core.jobs import Apply, ClaimedJob, JobContext, JobHandler, Worker
from ruxue_core.logs import configure_logging
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

    def create(session: Session) -> None:
        session.execute(sa.text(DROP_EFFECTS))
        session.execute(sa.text(CREATE_EFFECTS))
        session.commit()

    def drop(session: Session) -> None:
        session.execute(sa.text(DROP_EFFECTS))
        session.commit()

    await runtime.db.run(create)
    try:
        yield
    finally:
        await runtime.db.run(drop)


def insert_effect(job: ClaimedJob) -> Apply:
    """An ``Apply`` step recording that ``job`` took effect, and which worker applied it."""

    def apply(uow: UnitOfWork) -> None:
        uow.session.execute(
            sa.text("INSERT INTO test_effect (job_id, worker) VALUES (:job_id, :worker)"),
            {"job_id": job.id, "worker": job.owner},
        )

    return apply


async def effect_handler(ctx: JobContext) -> Apply:
    """The handler of ``KIND``: no I/O, one effect row, applied with the completion."""
    return insert_effect(ctx.job)


def read_effects(uow: UnitOfWork) -> list[tuple[int, str]]:
    """Every ``(job_id, worker)`` row of the effects table, in the caller's unit of work."""
    result = uow.session.execute(sa.text("SELECT job_id, worker FROM test_effect ORDER BY job_id"))
    return [(int(row[0]), str(row[1])) for row in result.all()]


async def effect_rows(runtime: Runtime) -> list[tuple[int, str]]:
    """Every ``(job_id, worker)`` row of the effects table."""
    return await runtime.read(read_effects)


# ---- the worker process ---------------------------------------------------------------------


async def hang(ctx: JobContext) -> Apply:
    """Announce the claim, then never finish."""
    print(f"claimed {ctx.job.id}", flush=True)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def yielding_effect_handler(ctx: JobContext) -> Apply:
    """:func:`effect_handler`, after yielding to the event loop once."""
    await asyncio.sleep(0)
    return insert_effect(ctx.job)


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
        if not await runtime.read(lambda uow: jobs.outstanding(uow.session)):
            print(f"done {ran}", flush=True)
            return 0
        await asyncio.sleep(runtime.settings.worker.poll_interval)
    print(f"timed out after {ran}", flush=True)
    return 1


async def main(mode: str, worker_id: str) -> int:
    configure_logging()  # as ``ruxue worker`` does: the worker's log goes to stderr
    runtime = Runtime.create(Settings())
    try:
        if mode == "crash":
            return await crash(runtime, worker_id)
        return await work(runtime, worker_id)
    finally:
        await runtime.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
