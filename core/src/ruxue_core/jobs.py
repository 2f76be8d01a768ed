"""Transactional outbox and its workers.

Work rows are written in the same transaction as the state change that causes them. Workers
claim due rows with one compare-and-set ``UPDATE … WHERE status = 'pending' … RETURNING``
(PostgreSQL first narrows the candidates with ``FOR UPDATE SKIP LOCKED``; SQLite would drop
that clause silently, and needs none since it has one writer). A claim is a lease: a worker
that dies simply stops renewing it, and the row becomes claimable again when it expires.

A handler does its slow I/O outside any transaction and returns an ``Apply`` step; the
worker runs that step and marks the job done in one transaction, guarded by the lease, so
the database effects of a job happen exactly once even when two workers raced for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, RuxueError
from ruxue_core.settings import WorkerSettings

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds a lease on; ``attempts`` identifies this very claim."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    owner: str


Apply = Callable[["UnitOfWork"], Awaitable[None]]
JobHandler = Callable[["Runtime", ClaimedJob], Awaitable[Apply | None]]


class LeaseLost(Exception):
    """The lease expired and another worker claimed the job; this run's effects are dropped."""


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, Any],
    *,
    key: str,
    max_attempts: int = 6,
    delay: timedelta | None = None,
) -> None:
    """Add a job in the caller's transaction; a second job with the same ``key`` is ignored."""
    values = {
        "kind": kind,
        "payload": dict(payload),
        "idempotency_key": key,
        "status": JobStatus.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": utcnow() + (delay or timedelta()),
        "created_at": utcnow(),
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    statement = (
        insert(Job).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    await (await session.connection()).execute(statement)


def _due(now: Any) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(Job.status) == JobStatus.PENDING, col(Job.run_after) <= now),
        sa.and_(col(Job.status) == JobStatus.RUNNING, col(Job.lease_until) < now),
    )


async def claim(
    session: AsyncSession, owner: str, *, limit: int, lease: timedelta, postgres: bool
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (pending, or running with an expired lease)."""
    now = utcnow()
    candidates = select(Job.id).where(_due(now)).order_by(col(Job.run_after), col(Job.id))
    candidates = candidates.limit(limit)
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    # A materialized CTE runs once. As a plain ``IN (subquery)`` PostgreSQL may plan a nested
    # loop that re-runs the locking subquery for every outer row, claiming far beyond ``limit``.
    picked = candidates.cte("claimable").prefix_with("MATERIALIZED", dialect="postgresql")
    statement = (
        sa.update(Job)
        .where(col(Job.id).in_(select(picked.c.id)), _due(now))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=col(Job.attempts) + 1,
        )
        .returning(
            col(Job.id), col(Job.kind), col(Job.payload), col(Job.attempts), col(Job.max_attempts)
        )
    )
    rows = (await (await session.connection()).execute(statement)).all()
    await session.commit()
    return sorted(
        (ClaimedJob(r.id, r.kind, r.payload, r.attempts, r.max_attempts, owner) for r in rows),
        key=lambda job: job.id,
    )


def _held(job: ClaimedJob) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Job.id) == job.id,
        col(Job.status) == JobStatus.RUNNING,
        col(Job.lease_owner) == job.owner,
        col(Job.attempts) == job.attempts,
    )


async def complete(session: AsyncSession, job: ClaimedJob) -> None:
    """Mark the job done in the caller's transaction, or raise ``LeaseLost``."""
    statement = (
        sa.update(Job)
        .where(_held(job))
        .values(status=JobStatus.DONE, finished_at=utcnow(), lease_owner=None, lease_until=None)
    )
    result = await (await session.connection()).execute(statement)
    if result.rowcount != 1:
        raise LeaseLost(f"job {job.id} attempt {job.attempts}")


def backoff(attempts: int, settings: WorkerSettings) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(n−1))]."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(0, ceiling))  # noqa: S311 - jitter, not secrecy


async def fail(
    session: AsyncSession,
    job: ClaimedJob,
    error: str,
    *,
    permanent: bool,
    settings: WorkerSettings,
) -> JobStatus | None:
    """Schedule a retry, or dead-letter the job when permanent or out of attempts.

    Returns the new status, or ``None`` when the lease had already passed to another worker.
    """
    dead = permanent or job.attempts >= job.max_attempts
    status = JobStatus.DEAD if dead else JobStatus.PENDING
    values: dict[str, Any] = {
        "status": status,
        "last_error": error[:1000],
        "lease_owner": None,
        "lease_until": None,
    }
    if dead:
        values["finished_at"] = utcnow()
    else:
        values["run_after"] = utcnow() + backoff(job.attempts, settings)
    statement = sa.update(Job).where(_held(job)).values(**values)
    result = await (await session.connection()).execute(statement)
    await session.commit()
    return status if result.rowcount == 1 else None


async def counts(session: AsyncSession) -> dict[JobStatus, int]:
    """How many jobs are in each state."""
    rows = (await session.exec(select(Job.status, func.count()).group_by(col(Job.status)))).all()
    return {JobStatus(status): n for status, n in rows}


async def retry_dead(session: AsyncSession, job_id: int) -> bool:
    """Put a dead-lettered job back in the queue with a fresh attempt budget."""
    statement = (
        sa.update(Job)
        .where(col(Job.id) == job_id, col(Job.status) == JobStatus.DEAD)
        .values(status=JobStatus.PENDING, attempts=0, run_after=utcnow(), finished_at=None)
    )
    result = await (await session.connection()).execute(statement)
    return bool(result.rowcount)


def new_worker_id() -> str:
    """A worker identity unique across machines and restarts."""
    return f"{socket.gethostname()[:32]}-{uuid.uuid4().hex[:12]}"


class Worker:
    """Claims due jobs and runs their handlers until stopped."""

    def __init__(
        self,
        runtime: Runtime,
        handlers: Mapping[str, JobHandler],
        *,
        worker_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.handlers = handlers
        self.id = worker_id or new_worker_id()
        self.settings = runtime.settings.worker

    async def run_once(self) -> int:
        """Claim one batch and run it; return how many jobs were claimed."""
        async with self.runtime.db.session() as session:
            batch = await claim(
                session,
                self.id,
                limit=self.settings.batch_size,
                lease=timedelta(seconds=self.settings.lease_seconds),
                postgres=self.runtime.db.postgres,
            )
        if batch:
            await asyncio.gather(*(self._run(job) for job in batch))
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, sleeping ``poll_interval`` whenever the queue is idle."""
        log.info("worker %s started", self.id)
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("worker %s: claiming failed; backing off", self.id)
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.poll_interval)
        log.info("worker %s stopped", self.id)

    async def drain(self, *, max_rounds: int = 10_000) -> int:
        """Run until no job is due (used by the demo and tests); return jobs processed."""
        total = 0
        for _ in range(max_rounds):
            claimed = await self.run_once()
            if not claimed:
                return total
            total += claimed
        return total

    async def _run(self, job: ClaimedJob) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise PermanentPluginError(f"no handler for job kind {job.kind!r}")
            apply = await handler(self.runtime, job)
            async with self.runtime.unit_of_work() as uow:
                if apply is not None:
                    await apply(uow)
                await complete(uow.session, job)
                await uow.commit()
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; its result was discarded", job.id)
        except Exception as exc:
            permanent = isinstance(exc, PermanentPluginError | RuxueError)
            async with self.runtime.db.session() as session:
                status = await fail(
                    session,
                    job,
                    f"{type(exc).__name__}: {exc}",
                    permanent=permanent,
                    settings=self.settings,
                )
            if status is None:
                log.warning(
                    "job %s failed after its lease passed to another worker: %s", job.id, exc
                )
            else:
                log.warning("job %s (%s) failed, now %s: %s", job.id, job.kind, status, exc)
