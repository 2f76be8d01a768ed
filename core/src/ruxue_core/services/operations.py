"""Operations use cases: the dead-letter queue, queue depth and the audit chain check."""

from __future__ import annotations

from ruxue_core import audit, jobs
from ruxue_core.audit import AuditEntry
from ruxue_core.domain.enums import JobStatus, Role
from ruxue_core.errors import NotFound
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.uow import UnitOfWork


async def retry_dead_job(uow: UnitOfWork, job_id: int, principal: Principal | None) -> None:
    """Requeue a dead-lettered job with a fresh attempt budget (audited).

    :raises NotFound: no dead job has that id.
    """
    actor = require_role(principal, Role.BUREAU_OFFICER, Role.ADMIN)
    if not await jobs.retry_dead(uow.session, job_id):
        raise NotFound("没有该失败任务", field="jobId")
    uow.audit(AuditEntry(actor.id, actor.role.value, "job.retry", "job", str(job_id)))
    await uow.commit()


async def job_counts(uow: UnitOfWork) -> dict[JobStatus, int]:
    """Jobs per state (queue depth, dead letters) for metrics and the CLI."""
    return await jobs.counts(uow.session)


async def verify_audit(uow: UnitOfWork, principal: Principal | None) -> audit.VerifyReport:
    """Recompute the audit hash chain; a broken link means a row was altered or removed."""
    require_role(principal, Role.AUDITOR, Role.ADMIN, Role.SYSTEM)
    return await audit.verify_chain(uow.session)
