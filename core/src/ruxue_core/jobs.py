"""Transactional outbox and its workers.

Work rows are written in the same transaction as the state change that causes them (see
:meth:`ruxue_core.uow.UnitOfWork.enqueue`). Workers claim due rows with one compare-and-set
``UPDATE … WHERE status = 'pending' … RETURNING`` (PostgreSQL first narrows the candidates with
``FOR UPDATE SKIP LOCKED``; SQLite would drop that clause silently, and needs none since it has
one writer). A claim is a lease timed by the database's clock and renewed by a heartbeat while
the job runs; a worker that dies stops renewing, and the job becomes claimable again when the
lease runs out.

A handler does its slow I/O outside any transaction. Every database step it takes runs in a
lease-guarded transaction (:meth:`JobContext.transaction`), and its final step runs together
with the lease-guarded ``complete``: a job's effects happen exactly once even when two workers
raced for it. An optimistic-locking ``Conflict`` is retried without spending an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from ruxue_core.clock import db_now
from ruxue_core.db import execute
from ruxue_core.domain import Job
from ruxue_core.domain.enums import JobStatus
from ruxue_core.errors import Conflict, PermanentPluginError, RuxueError
from ruxue_core.settings import WorkerSettings

if TYPE_CHECKING:
    from ruxue_core.runtime import Runtime
    from ruxue_core.uow import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CONFLICTS: Final = 50
"""Conflicts retried freely before one counts as a failed attempt (a livelock guard)."""


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds a lease on; ``attempts`` identifies this very claim."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    owner: str


Apply = Callable[["UnitOfWork"], None]
"""A handler's final database step, run in one transaction with the job's completion."""


class LeaseLost(Exception):
    """The lease expired and another worker claimed the job; this run's effects are dropped."""


class JobContext:
    """What a handler gets: the runtime, its claimed job, and lease-guarded transactions."""

    def __init__(self, runtime: Runtime, job: ClaimedJob, lease_seconds: float) -> None:
        self.runtime = runtime
        self.job = job
        self._lease = lease_seconds

    async def transaction(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in a transaction that first renews this job's lease, then commit.

        :raises LeaseLost: the lease passed to another worker; nothing of ``work`` is kept.
        """

        def guarded(uow: UnitOfWork) -> T:
            if not renew(uow.session, self.job, self._lease):
                raise LeaseLost(f"job {self.job.id} attempt {self.job.attempts}")
            result = work(uow)
            uow.commit()
            return result

        return await self.runtime.write(guarded)


JobHandler = Callable[[JobContext], Awaitable[Apply | None]]


_HELD: Final = sa.and_(
    col(Job.id) == sa.bindparam("held_id"),
    col(Job.status) == JobStatus.RUNNING,
    col(Job.lease_owner) == sa.bindparam("held_owner"),
    col(Job.attempts) == sa.bindparam("held_attempts"),
)
"""The job is still this claim's: same owner and attempt, still running."""


def _held(job: ClaimedJob) -> dict[str, Any]:
    """The parameters of :data:`_HELD` for ``job``."""
    return {"held_id": job.id, "held_owner": job.owner, "held_attempts": job.attempts}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _due(now: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(Job.status) == JobStatus.PENDING, col(Job.run_after) <= now),
        sa.and_(col(Job.status) == JobStatus.RUNNING, col(Job.lease_until) < now),
    )


def ensure_periodic(session: Session, kinds: Iterable[str], *, max_attempts: int) -> None:
    """Make sure each periodic job kind has its one row (keyed by the kind); commit after."""
    rows = [
        {
            "kind": kind,
            "payload": {},
            "idempotency_key": kind,
            "status": JobStatus.PENDING,
            "attempts": 0,
            "conflicts": 0,
            "max_attempts": max_attempts,
            "run_after": db_now(_dialect(session)),
            "created_at": db_now(_dialect(session)),
        }
        for kind in kinds
    ]
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    for row in rows:
        session.execute(
            insert(Job).values(**row).on_conflict_do_nothing(index_elements=["idempotency_key"])
        )


@functools.cache
def _claim(dialect: str, limit: int, lease_seconds: float) -> sa.Update:
    now = db_now(dialect)
    candidates = select(Job.id).where(_due(now)).order_by(col(Job.run_after), col(Job.id))
    candidates = candidates.limit(limit)
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    # A materialized CTE runs once. As a plain ``IN (subquery)`` PostgreSQL may plan a nested
    # loop that re-runs the locking subquery for every outer row, claiming far beyond ``limit``.
    picked = candidates.cte("claimable").prefix_with("MATERIALIZED", dialect="postgresql")
    return (
        sa.update(Job)
        .where(col(Job.id).in_(select(picked.c.id)), _due(now))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=sa.bindparam("owner"),
            lease_until=db_now(dialect, plus_seconds=lease_seconds),
            attempts=col(Job.attempts) + 1,
        )
        .returning(
            col(Job.id), col(Job.kind), col(Job.payload), col(Job.attempts), col(Job.max_attempts)
        )
    )


def claim(session: Session, owner: str, *, limit: int, lease_seconds: float) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (pending, or running with an expired lease); commits."""
    statement = _claim(_dialect(session), limit, lease_seconds)
    rows = session.connection().execute(statement, {"owner": owner}).all()
    session.commit()
    return sorted(
        (ClaimedJob(r.id, r.kind, r.payload, r.attempts, r.max_attempts, owner) for r in rows),
        key=lambda job: job.id,
    )


@functools.cache
def _renew(dialect: str, lease_seconds: float) -> sa.Update:
    return (
        sa.update(Job).where(_HELD).values(lease_until=db_now(dialect, plus_seconds=lease_seconds))
    )


def renew(session: Session, job: ClaimedJob, lease_seconds: float) -> bool:
    """Extend the lease on ``job``; ``False`` when it has passed to another worker."""
    return execute(session, _renew(_dialect(session), lease_seconds), _held(job)) == 1


def heartbeat(session: Session, held: Iterable[ClaimedJob], lease_seconds: float) -> set[int]:
    """Renew the leases of ``held`` in one statement; return the ids still held. Commits."""
    jobs = {job.id: job for job in held}
    if not jobs:
        return set()
    owner = next(iter(jobs.values())).owner
    statement = (
        sa.update(Job)
        .where(
            col(Job.id).in_(jobs),
            col(Job.status) == JobStatus.RUNNING,
            col(Job.lease_owner) == owner,
        )
        .values(lease_until=db_now(_dialect(session), plus_seconds=lease_seconds))
        .returning(col(Job.id), col(Job.attempts))
    )
    rows = session.execute(statement).all()
    session.commit()
    return {r.id for r in rows if jobs[r.id].attempts == r.attempts}


@functools.cache
def _complete(dialect: str, every: float | None) -> sa.Update:
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": None}
    if every is None:
        values |= {"status": JobStatus.DONE, "finished_at": db_now(dialect)}
    else:
        values |= {
            "status": JobStatus.PENDING,
            "attempts": 0,
            "run_after": db_now(dialect, plus_seconds=every),
        }
    return sa.update(Job).where(_HELD).values(**values)


def complete(session: Session, job: ClaimedJob, *, every: float | None = None) -> None:
    """Mark the job done (or, for a periodic kind, due again in ``every`` seconds).

    Runs in the caller's transaction. :raises LeaseLost: the lease is no longer ours.
    """
    if execute(session, _complete(_dialect(session), every), _held(job)) != 1:
        raise LeaseLost(f"job {job.id} attempt {job.attempts}")


def backoff(attempts: int, settings: WorkerSettings) -> float:
    """Seconds to wait: exponential with full jitter, uniform in [0, min(cap, base·2^(n−1))]."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2 ** (attempts - 1))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not secrecy


def fail(
    session: Session,
    job: ClaimedJob,
    error: str,
    *,
    permanent: bool,
    settings: WorkerSettings,
) -> JobStatus | None:
    """Schedule a retry, or dead-letter the job when permanent or out of attempts. Commits.

    Returns the new status, or ``None`` when the lease had already passed to another worker.
    """
    dialect = _dialect(session)
    dead = permanent or job.attempts >= job.max_attempts
    status = JobStatus.DEAD if dead else JobStatus.PENDING
    values: dict[str, Any] = {
        "status": status,
        "last_error": error[:1000],
        "lease_owner": None,
        "lease_until": None,
    }
    if dead:
        values["finished_at"] = db_now(dialect)
    else:
        values["run_after"] = db_now(dialect, plus_seconds=backoff(job.attempts, settings))
    matched = execute(session, sa.update(Job).where(_HELD).values(**values), _held(job))
    session.commit()
    return status if matched == 1 else None


def postpone_conflict(session: Session, job: ClaimedJob) -> bool:
    """Requeue a job that lost an optimistic-locking race, giving back its attempt. Commits.

    ``False`` when the lease had passed, or after ``MAX_CONFLICTS`` (then it is a failure).
    """
    statement = (
        sa.update(Job)
        .where(_HELD, col(Job.conflicts) < MAX_CONFLICTS)
        .values(
            status=JobStatus.PENDING,
            attempts=col(Job.attempts) - 1,
            conflicts=col(Job.conflicts) + 1,
            lease_owner=None,
            lease_until=None,
            run_after=db_now(_dialect(session), plus_seconds=random.uniform(0, 0.05)),  # noqa: S311
        )
    )
    matched = execute(session, statement, _held(job))
    session.commit()
    return matched == 1


def counts(session: Session) -> dict[JobStatus, int]:
    """How many jobs are in each state."""
    rows = session.exec(select(Job.status, func.count()).group_by(col(Job.status))).all()
    return {JobStatus(status): n for status, n in rows}


def counts_by_kind(session: Session) -> dict[tuple[str, JobStatus], int]:
    """How many jobs of each kind are in each state."""
    rows = session.exec(
        select(Job.kind, Job.status, func.count()).group_by(col(Job.kind), col(Job.status))
    ).all()
    return {(kind, JobStatus(status)): n for kind, status, n in rows}


def outstanding(session: Session) -> int:
    """Jobs pending or running, not counting the periodic ones (which are always pending)."""
    count = session.exec(
        select(func.count())
        .select_from(Job)
        .where(
            col(Job.status).in_((JobStatus.PENDING, JobStatus.RUNNING)),
            col(Job.idempotency_key) != col(Job.kind),
        )
    ).one()
    return int(count)


def retry_dead(session: Session, job_id: int) -> bool:
    """Put a dead-lettered job back in the queue with a fresh attempt budget."""
    statement = (
        sa.update(Job)
        .where(col(Job.id) == job_id, col(Job.status) == JobStatus.DEAD)
        .values(
            status=JobStatus.PENDING,
            attempts=0,
            conflicts=0,
            run_after=db_now(_dialect(session)),
            finished_at=None,
        )
    )
    return execute(session, statement) == 1


def new_worker_id() -> str:
    """A worker identity unique across machines and restarts."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims due jobs and runs their handlers until stopped.

    :param handlers: the handler for each job kind.
    :param periodic: job kinds that run again every so many seconds (one row each).
    """

    def __init__(
        self,
        runtime: Runtime,
        handlers: Mapping[str, JobHandler],
        *,
        periodic: Mapping[str, float] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.handlers = handlers
        self.periodic = dict(periodic or {})
        self.id = worker_id or new_worker_id()
        self.settings = runtime.settings.worker
        self._periodic_ready = False
        self._finisher = _Finisher(runtime)

    async def run_once(self) -> int:
        """Claim one batch and run it; return how many jobs were claimed."""
        if not self._periodic_ready and self.periodic:
            await self.runtime.db.run(self._ensure_periodic)
            self._periodic_ready = True
        batch = await self.runtime.db.run(
            lambda session: claim(
                session,
                self.id,
                limit=self.settings.batch_size,
                lease_seconds=self.settings.lease_seconds,
            )
        )
        if batch:
            running = {job.id: job for job in batch}
            beat = asyncio.create_task(self._heartbeat(running))
            try:
                await asyncio.gather(*(self._run(job, running) for job in batch))
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
        return len(batch)

    def _ensure_periodic(self, session: Session) -> None:
        ensure_periodic(session, self.periodic, max_attempts=self.settings.max_attempts)
        session.commit()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; sleep until woken (a commit queued jobs) or polled."""
        log.info("worker %s started (pid %d)", self.id, os.getpid())
        listener = self.runtime.listen_for_jobs(stop)
        try:
            await self._flow(stop)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        log.info("worker %s stopped", self.id)

    async def drain(self, *, max_rounds: int = 10_000) -> int:
        """Run until no job is due and none is running (used by the demo and tests); return
        the jobs processed. Periodic jobs are not due right after they run, so draining ends.

        :param max_rounds: at most this many claims.
        """
        return await self._flow(None, max_rounds=max_rounds)

    async def _flow(self, stop: asyncio.Event | None, *, max_rounds: int | None = None) -> int:
        """Keep up to ``batch_size`` jobs in flight, claiming more as soon as half the slots
        are free, so that one slow job never holds up the jobs behind it (a batch run to its
        end before the next claim spent most of its time waiting for its slowest job).

        ``stop`` ``None`` drains: return once nothing is running and a claim finds nothing.
        """
        if not self._periodic_ready and self.periodic:
            await self.runtime.db.run(self._ensure_periodic)
            self._periodic_ready = True
        size = self.settings.batch_size
        refill_at = max(1, size // 2)
        wake = self.runtime.jobs_ready
        running: dict[int, ClaimedJob] = {}
        tasks: set[asyncio.Task[None]] = set()
        beat = asyncio.create_task(self._heartbeat(running))
        total = rounds = 0
        try:
            while stop is None or not stop.is_set():
                free = size - len(tasks)
                claimed: list[ClaimedJob] = []
                if free >= refill_at and (max_rounds is None or rounds < max_rounds):
                    wake.clear()
                    rounds += 1
                    try:
                        claimed = await self.claim_batch(free)
                    except Exception:
                        if stop is None:
                            raise
                        log.exception("worker %s: claiming failed; backing off", self.id)
                    for job in claimed:
                        running[job.id] = job
                        tasks.add(asyncio.create_task(self._run(job, running)))
                    total += len(claimed)
                if not tasks:
                    if stop is None:
                        return total
                    await _first_of(stop, wake, seconds=self.settings.poll_interval)
                    continue
                if free - len(claimed) >= refill_at and stop is not None:
                    # Room left and nothing was due: also wake for newly queued jobs.
                    waiter = asyncio.create_task(_first_of(stop, wake, seconds=3600.0))
                    done, _ = await asyncio.wait(
                        {*tasks, waiter},
                        timeout=self.settings.poll_interval,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    waiter.cancel()
                else:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                tasks -= done
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        return total

    async def claim_batch(self, limit: int) -> list[ClaimedJob]:
        """Claim up to ``limit`` due jobs for this worker (one transaction)."""
        return await self.runtime.db.run(
            lambda session: claim(
                session, self.id, limit=limit, lease_seconds=self.settings.lease_seconds
            )
        )

    async def _heartbeat(self, running: dict[int, ClaimedJob]) -> None:
        lease = self.settings.lease_seconds
        while True:  # until cancelled
            await asyncio.sleep(self.settings.heartbeat_seconds)
            current = list(running.values())
            if not current:
                continue
            try:
                held = await self.runtime.db.run(
                    functools.partial(heartbeat, held=current, lease_seconds=lease)
                )
            except Exception:
                log.exception("worker %s: heartbeat failed", self.id)
                continue
            for job in current:
                if job.id not in held and job.id in running:  # one that just finished holds none
                    log.warning("job %s: lease lost while running", job.id)

    async def _run(self, job: ClaimedJob, running: dict[int, ClaimedJob]) -> None:
        try:
            await self._execute(job)
        finally:
            running.pop(job.id, None)

    async def _execute(self, job: ClaimedJob) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise PermanentPluginError(f"no handler for job kind {job.kind!r}")
            context = JobContext(self.runtime, job, self.settings.lease_seconds)
            async with asyncio.timeout(self.settings.job_timeout_seconds):
                apply = await handler(context)
            await self._finisher.finish(job, apply, self.periodic.get(job.kind))
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; its result was discarded", job.id)
        except Conflict:
            if not await self.runtime.db.run(lambda s: postpone_conflict(s, job)):
                await self._fail(job, "Conflict: too many optimistic-locking conflicts", True)
        except Exception as exc:
            permanent = isinstance(exc, PermanentPluginError | RuxueError)
            await self._fail(job, f"{type(exc).__name__}: {exc}", permanent)

    async def _fail(self, job: ClaimedJob, error: str, permanent: bool) -> None:
        settings = self.settings
        status = await self.runtime.db.run(
            lambda s: fail(s, job, error, permanent=permanent, settings=settings)
        )
        if status is None:
            log.warning("job %s failed after its lease passed to another worker", job.id)
        else:
            log.warning("job %s (%s) failed, now %s: %s", job.id, job.kind, status, error)


@dataclass
class _Finishing:
    """A job whose handler is done, waiting for its final step and completion."""

    job: ClaimedJob
    apply: Apply | None
    every: float | None
    done: asyncio.Future[None]


class _Finisher:
    """Runs the final steps of the jobs that finished meanwhile in one unit of work (group
    commit): one hop and one commit for many jobs. Failures are rare (a conflict, a lost
    lease); when a group's unit fails, each of its jobs is finished again on its own, so one
    job's failure never undoes another's effects."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiting: list[_Finishing] = []
        self._draining: asyncio.Task[None] | None = None

    async def finish(self, job: ClaimedJob, apply: Apply | None, every: float | None) -> None:
        """Apply ``apply`` and complete ``job``; raise what its step raised."""
        item = _Finishing(job, apply, every, asyncio.get_running_loop().create_future())
        self._waiting.append(item)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        await item.done

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._runtime.write(functools.partial(_finish, group=group))
            except Exception as exc:
                if len(group) == 1:
                    group[0].done.set_exception(exc)
                else:
                    await asyncio.gather(*(self._alone(item) for item in group))
                continue
            for item in group:
                item.done.set_result(None)

    async def _alone(self, item: _Finishing) -> None:
        try:
            await self._runtime.write(functools.partial(_finish, group=[item]))
        except Exception as exc:
            item.done.set_exception(exc)
        else:
            item.done.set_result(None)


def _finish(uow: UnitOfWork, group: list[_Finishing]) -> None:
    """Every job's final step and completion in one transaction; commits."""
    for item in group:
        if item.apply is not None:
            item.apply(uow)
        complete(uow.session, item.job, every=item.every)
    uow.commit()


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, *, seconds: float) -> None:
    """Wait until either event is set, or ``seconds`` pass."""
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
