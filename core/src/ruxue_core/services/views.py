"""Read use cases for signed-in users. Personal data leaves the core masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from ruxue_core.domain import Evidence, Job
from ruxue_core.domain.enums import (
    OUTCOME_LABELS,
    STATUS_LABELS,
    Channel,
    JobStatus,
    Outcome,
    Role,
    Status,
)
from ruxue_core.lifecycle import Case, load_case
from ruxue_core.permissions import STAFF_ROLES, require_role, visible
from ruxue_core.plugins.contracts import Principal
from ruxue_core.runtime import Runtime
from ruxue_core.security import mask_address, mask_id_number, mask_name, mask_phone
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
    """An application with every personal datum masked."""

    id: int
    receipt_no: str
    status: Status
    status_label: str
    version: int
    channel: Channel
    township_code: str | None
    child_name: str
    child_id_number: str
    guardian_name: str
    guardian_phone: str
    address: str
    school_code: str | None
    school_name: str | None
    age_exception: str | None
    created_at: datetime
    updated_at: datetime
    evidence: tuple[EvidenceView, ...] | None = None
    """Loaded with a single application; ``None`` in lists (loaded per page, see
    :func:`ruxue_core.services.worklist.evidence_for`)."""


async def get_application(
    rt: Runtime, application_id: int, principal: Principal | None
) -> ApplicationView:
    """One application the principal may see, masked.

    :raises Forbidden: not signed in.
    :raises NotFound: no such application, or not one the principal may see (alike).
    """
    actor = require_role(principal, Role.GUARDIAN, *STAFF_ROLES)

    def read(uow: UnitOfWork) -> ApplicationView:
        case = visible(actor, load_case(uow, application_id), uow.cipher, field="id")
        evidence = uow.session.exec(
            select(Evidence)
            .where(col(Evidence.application_id) == case.id)
            .order_by(col(Evidence.id))
        ).all()
        return application_view(uow, case, evidence)

    return await rt.read(read)


def evidence_view(evidence: Evidence) -> EvidenceView:
    """One stored check as shown: outcome and reason, never the facts."""
    e = evidence
    return EvidenceView(
        e.source, e.subject, e.outcome, OUTCOME_LABELS[e.outcome], e.reason, e.checked_at
    )


def application_view(
    uow: UnitOfWork, case: Case, evidence: Sequence[Evidence] | None = None
) -> ApplicationView:
    """The masked view of a loaded case (with its evidence when given)."""
    cipher = uow.cipher
    application = case.application
    return ApplicationView(
        id=case.id,
        receipt_no=application.receipt_no,
        status=application.status,
        status_label=STATUS_LABELS[application.status],
        version=application.version,
        channel=application.channel,
        township_code=application.township_code,
        child_name=mask_name(case.child.name),
        child_id_number=mask_id_number(
            cipher.decrypt(case.child.id_number_ct, purpose="child.id_number")
        ),
        guardian_name=mask_name(case.guardian.name),
        guardian_phone=mask_phone(cipher.decrypt(case.guardian.phone_ct, purpose="guardian.phone")),
        address=mask_address(cipher.decrypt(application.address_ct, purpose="application.address")),
        school_code=case.school.code if case.school else None,
        school_name=case.school.name if case.school else None,
        age_exception=application.age_exception,
        created_at=application.created_at,
        updated_at=application.updated_at,
        evidence=None if evidence is None else tuple(evidence_view(e) for e in evidence),
    )


async def dead_jobs(rt: Runtime, principal: Principal | None, *, limit: int = 50) -> list[Job]:
    """Dead-lettered jobs, newest first, for bureau staff and admins to inspect and retry."""
    require_role(principal, Role.BUREAU_OFFICER, Role.ADMIN, Role.AUDITOR)
    bounded = max(1, min(limit, 100))

    def read(uow: UnitOfWork) -> list[Job]:
        rows = uow.session.exec(
            select(Job)
            .where(col(Job.status) == JobStatus.DEAD)
            .order_by(col(Job.finished_at).desc())
            .limit(bounded)
        )
        return list(rows.all())

    return await rt.read(read)
