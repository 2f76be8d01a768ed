"""Workers in separate OS processes: one killed mid-job, and two sharing a queue.

Each subprocess runs ``effect_jobs.py`` with its settings in ``RUXUE_*`` variables, against
the test's database (the same SQLite file, or the PostgreSQL test database) and data dir.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from ruxue_core.clock import db_now
from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.jobs import Worker
from ruxue_core.runtime import Runtime
from ruxue_core.settings import Settings
from ruxue_core.uow import UnitOfWork

from .effect_jobs import KIND, effect_handler, effect_rows

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("effect_jobs.py")
LEASE_SECONDS = 3.0
HEARTBEAT_SECONDS = 1.0
STARTUP_TIMEOUT = 60.0


async def all_jobs(runtime: Runtime) -> list[Job]:
    return await runtime.read(
        lambda uow: list(uow.session.exec(select(Job).order_by(col(Job.id))).all())
    )


async def enqueue_many(runtime: Runtime, count: int) -> None:
    def enqueue(uow: UnitOfWork) -> None:
        for i in range(count):
            uow.enqueue(KIND, {"i": i}, key=f"job-{i}")
        uow.commit()

    await runtime.write(enqueue)


async def db_time(runtime: Runtime) -> datetime:
    """The database's clock (UTC), which leases are timed by."""
    now = db_now(runtime.db.engine.dialect.name)
    value: datetime = await runtime.read(
        lambda uow: uow.session.execute(sa.select(now)).scalar_one()
    )
    return value.replace(tzinfo=UTC)


def worker_env(settings: Settings, **worker: float) -> dict[str, str]:
    """The environment of a worker process on the test's database and data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUXUE_")}
    assert settings.database_url is not None
    env.update(
        RUXUE_DATABASE_URL=settings.database_url,
        RUXUE_DATA_DIR=str(settings.data_dir),
        RUXUE_VERIFIERS="[]",
        RUXUE_NOTIFIERS="[]",
    )
    env.update({f"RUXUE_WORKER__{name.upper()}": str(value) for name, value in worker.items()})
    return env


async def spawn(
    mode: str, worker_id: str, env: Mapping[str, str], cwd: Path
) -> asyncio.subprocess.Process:
    """Start a worker (``effect_jobs.py``); its stderr goes to ``<worker_id>.stderr`` in ``cwd``."""
    with (cwd / f"{worker_id}.stderr").open("wb") as stderr:  # the child keeps its own copy
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            mode,
            worker_id,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


def read_log(path: Path) -> str:
    """A worker's stderr, for failure messages."""
    return path.read_text(errors="replace")


async def read_line(process: asyncio.subprocess.Process, log: Path) -> str:
    """The next line the process prints; fails with its stderr if it prints none."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
    except TimeoutError:
        line = b""
    assert line, f"worker printed nothing; stderr:\n{read_log(log)}"
    return line.decode().strip()


async def finish(process: asyncio.subprocess.Process) -> str:
    """Kill the process if it still runs, reap it and return the rest of its output."""
    if process.returncode is None:
        process.kill()
    out, _ = await process.communicate()
    return out.decode()


async def test_a_killed_worker_loses_its_job_only_until_the_lease_expires(
    settings: Settings, runtime: Runtime, effects: None, tmp_path: Path
) -> None:
    await enqueue_many(runtime, 1)
    [job] = await all_jobs(runtime)
    env = worker_env(
        settings,
        lease_seconds=LEASE_SECONDS,
        heartbeat_seconds=HEARTBEAT_SECONDS,
        poll_interval=0.05,
    )
    process = await spawn("crash", "crasher", env, tmp_path)
    try:
        assert await read_line(process, tmp_path / "crasher.stderr") == f"claimed {job.id}"
        # Let the heartbeat renew the lease a few times: a hung job keeps its lease while
        # its worker lives, however long that is.
        await asyncio.sleep(2 * LEASE_SECONDS)
        [alive] = await all_jobs(runtime)
        now = await db_time(runtime)
        assert (alive.status, alive.lease_owner) == (JobStatus.RUNNING, "crasher")
        assert alive.lease_until is not None and alive.lease_until > now, "heartbeat renewed"
        process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
    finally:
        await finish(process)
    killed_at = await db_time(runtime)
    log = read_log(tmp_path / "crasher.stderr")
    assert f"worker crasher started (pid {process.pid})" in log, log

    [held] = await all_jobs(runtime)
    assert (held.status, held.attempts, held.lease_owner) == (JobStatus.RUNNING, 1, "crasher")
    assert held.lease_until is not None
    # Recovery is bounded by the lease: it ends at most one lease after the worker died.
    assert held.lease_until <= killed_at + timedelta(seconds=LEASE_SECONDS)

    worker = Worker(runtime, {KIND: effect_handler}, worker_id="survivor")
    assert await worker.run_once() == 0  # the dead worker's lease still holds
    assert await db_time(runtime) < held.lease_until, "too slow to observe the lease"

    deadline = time.monotonic() + LEASE_SECONDS + 30
    while not await worker.run_once():
        assert time.monotonic() < deadline, "the job was never reclaimed after its lease expired"
        await asyncio.sleep(0.05)
    assert await db_time(runtime) >= held.lease_until

    [finished] = await all_jobs(runtime)
    assert finished.status is JobStatus.DONE
    assert finished.attempts == 2
    assert (finished.lease_owner, finished.last_error) == (None, None)
    assert await effect_rows(runtime) == [(job.id, "survivor")]


async def test_two_worker_processes_share_1000_jobs_without_loss_or_duplicates(
    settings: Settings, runtime: Runtime, effects: None, tmp_path: Path
) -> None:
    total = 1000
    await enqueue_many(runtime, total)
    env = worker_env(settings, batch_size=10, poll_interval=0.02)
    names = ["proc-a", "proc-b"]
    processes = [await spawn("work", name, env, tmp_path) for name in names]
    try:
        for name, process in zip(names, processes, strict=True):
            assert await read_line(process, tmp_path / f"{name}.stderr") == "ready"
        for process in processes:  # start both at once
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), 180)
    finally:
        outputs = [await finish(p) for p in processes]
    logs = {name: read_log(tmp_path / f"{name}.stderr") for name in names}
    assert codes == [0, 0], (outputs, logs)

    reported = {name: int(out.split()[-1]) for name, out in zip(names, outputs, strict=True)}
    rows = await all_jobs(runtime)
    assert len(rows) == total
    assert all(job.status is JobStatus.DONE for job in rows)
    assert all(job.attempts == 1 for job in rows)  # nobody's lease expired: no re-runs
    effects_seen = await effect_rows(runtime)
    assert len(effects_seen) == total
    assert {job_id for job_id, _ in effects_seen} == {job.id for job in rows}
    per_worker = Counter(worker for _, worker in effects_seen)
    assert per_worker == reported
    assert all(per_worker[name] > 0 for name in names), per_worker
