"""Read use cases for signed-in users. Personal numbers leave the core masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from ruxue_core.domain import Application, Child, Evidence, Guardian, Job, School
from ruxue_core.domain.enums import (
    OUTCOME_LABELS,
    STATUS_LABELS,
    Channel,
    JobStatus,
    Outcome,
    Role,
    Status,
)
from ruxue_core.errors import NotFound
from ruxue_core.permissions import ensure_can_see, require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.security import mask_id_number, mask_name, mask_phone
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One department check as shown to staff and the guardian."""

    source: str
    subject: str
    outcome: Outcome
    outcome_label: str
    reason: str | None
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application with every personal number masked."""

    id: int
    receipt_no: str
    status: Status
    status_label: str
    version: int
    channel: Channel
    child_name: str
    child_id_number: str
    guardian_name: str
    guardian_phone: str
    address: str
    school_name: str | None
    created_at: datetime
    updated_at: datetime
    evidence: tuple[EvidenceView, ...]


async def get_application(
    uow: UnitOfWork, application_id: int, principal: Principal | None
) -> ApplicationView:
    """One application the principal may see, masked.

    :raises Forbidden: not signed in, or outside the principal's scope.
    :raises NotFound: no such application.
    """
    actor = require_role(principal, *Role)
    application = await uow.session.get(Application, application_id)
    if application is None:
        raise NotFound("申请不存在", field="id")
    guardian = await uow.session.get(Guardian, application.guardian_id)
    child = await uow.session.get(Child, application.child_id)
    assert guardian is not None and child is not None and application.id is not None
    school = await uow.session.get(School, application.school_id) if application.school_id else None
    ensure_can_see(actor, application, guardian, school.code if school else None)
    evidence = (
        await uow.session.exec(
            select(Evidence)
            .where(col(Evidence.application_id) == application.id)
            .order_by(col(Evidence.id))
        )
    ).all()
    cipher = uow.cipher
    return ApplicationView(
        id=application.id,
        receipt_no=application.receipt_no,
        status=application.status,
        status_label=STATUS_LABELS[application.status],
        version=application.version or 0,
        channel=application.channel,
        child_name=mask_name(child.name),
        child_id_number=mask_id_number(
            cipher.decrypt(child.id_number_ct, purpose="child.id_number")
        ),
        guardian_name=mask_name(guardian.name),
        guardian_phone=mask_phone(cipher.decrypt(guardian.phone_ct, purpose="guardian.phone")),
        address=application.address,
        school_name=school.name if school else None,
        created_at=application.created_at,
        updated_at=application.updated_at,
        evidence=tuple(
            EvidenceView(
                e.source, e.subject, e.outcome, OUTCOME_LABELS[e.outcome], e.reason, e.checked_at
            )
            for e in evidence
        ),
    )


async def dead_jobs(uow: UnitOfWork, principal: Principal | None, *, limit: int = 50) -> list[Job]:
    """Dead-lettered jobs, newest first, for bureau staff and admins to inspect and retry."""
    require_role(principal, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR)
    rows = await uow.session.exec(
        select(Job)
        .where(col(Job.status) == JobStatus.DEAD)
        .order_by(col(Job.finished_at).desc())
        .limit(max(1, min(limit, 100)))
    )
    return list(rows.all())
