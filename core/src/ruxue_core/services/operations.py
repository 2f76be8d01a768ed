"""Operations use cases: the dead-letter queue, queue depth and the audit log's checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ruxue_core import audit, jobs, keys
from ruxue_core.audit import AuditEntry
from ruxue_core.domain.enums import JobStatus, Role
from ruxue_core.errors import NotFound
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork


async def retry_dead_job(rt: Runtime, job_id: int, principal: Principal | None) -> None:
    """Requeue a dead-lettered job with a fresh attempt budget (audited).

    :raises Forbidden: not bureau staff or an admin.
    :raises NotFound: no dead job has that id.
    """
    actor = require_role(principal, Role.BUREAU_OFFICER, Role.ADMIN)

    def retry(uow: UnitOfWork) -> None:
        if not jobs.retry_dead(uow.session, job_id):
            raise NotFound("没有该失败任务", field="jobId")
        uow.audit(AuditEntry(actor.id, actor.role.value, "job.retry", "job", str(job_id)))
        uow.jobs_queued += 1
        uow.commit()

    await rt.write(retry)


async def ping(rt: Runtime) -> None:
    """One trivial statement on a read connection: raises if the database is unreachable."""
    await rt.read(lambda uow: uow.session.execute(sa.text("SELECT 1")))


async def job_counts(rt: Runtime) -> dict[JobStatus, int]:
    """Jobs per state (queue depth, dead letters) for metrics and the CLI."""
    return await rt.read(lambda uow: jobs.counts(uow.session))


async def job_counts_by_kind(rt: Runtime) -> dict[tuple[str, JobStatus], int]:
    """Jobs per kind and state, for metrics."""
    return await rt.read(lambda uow: jobs.counts_by_kind(uow.session))


async def outstanding_jobs(rt: Runtime) -> int:
    """Jobs still to do (pending or running), periodic ones aside: 0 once all is settled."""
    return await rt.read(lambda uow: jobs.outstanding(uow.session))


def verify_audit(
    rt: Runtime, principal: Principal | None, *, published: Sequence[dict[str, Any]] = ()
) -> audit.VerifyReport:
    """Recompute the audit log's leaves and heads (and check heads published earlier)."""
    require_role(principal, Role.AUDITOR, Role.ADMIN, Role.SYSTEM)
    public = keys.audit_signing_key(rt.settings).public_key()
    return rt.read_here(lambda uow: audit.verify_log(uow.session, public, published=published))


def prove_audit(rt: Runtime, receipt_no: str, principal: Principal | None) -> dict[str, Any] | None:
    """Inclusion proofs of one case's audit entries against the latest signed head, in the
    form ``contrib/audit/verify_proof.py`` checks; ``None`` before the first head."""
    require_role(principal, Role.AUDITOR, Role.ADMIN, Role.SYSTEM)
    public = keys.audit_signing_key(rt.settings).public_key()
    head, proofs = rt.read_here(lambda uow: audit.prove(uow.session, receipt_no))
    if head is None:
        return None
    return {
        "head": audit.export_head(head, public),
        "entries": [{"index": p.index, "leaf": p.leaf, "proof": p.proof} for p in proofs],
    }


def audit_head(rt: Runtime, principal: Principal | None) -> dict[str, Any] | None:
    """The latest signed tree head, for the district to publish or hand to the province."""
    require_role(principal, Role.AUDITOR, Role.ADMIN, Role.SYSTEM)
    public = keys.audit_signing_key(rt.settings).public_key()
    head = rt.read_here(lambda uow: audit.latest_head(uow.session))
    return audit.export_head(head, public) if head is not None else None


async def sequence_handler(context: jobs.JobContext) -> jobs.Apply:
    """Periodic job ``audit.sequence``: position new audit entries and sign a tree head."""
    signing_key = keys.audit_signing_key(context.runtime.settings)

    def apply(uow: UnitOfWork) -> None:
        audit.sequence(uow.session, signing_key)

    return apply
