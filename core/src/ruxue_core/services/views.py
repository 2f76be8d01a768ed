"""Read use cases for signed-in users. Personal data leaves the core masked."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlmodel import col, select

from ruxue_core.domain import Assessment, Consent, Evidence, Job, Material
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
from ruxue_core.security import (
    PiiCipher,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
)
from ruxue_core.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One department check as shown to staff and the guardian; its facts masked."""

    source: str
    subject: str
    outcome: Outcome
    outcome_label: str
    reason: str | None
    checked_at: datetime
    facts: tuple[tuple[str, str], ...] = ()
    source_record_id: str | None = None
    consent_ref: str | None = None


@dataclass(frozen=True, slots=True)
class MaterialNeeded:
    """A material still needed (annex 1): its code and name."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class AssessmentView:
    """What the season's rules concluded from the latest verification round."""

    application_id: int
    round: int
    decision: str
    reason_code: str
    reason: str
    category: str | None
    category_name: str | None
    address_proven_by: str | None
    schools: tuple[str, ...]
    materials: tuple[MaterialNeeded, ...]
    corrections: tuple[str, ...]


_MASKED_FACTS: Final = frozenset({"address", "household", "unit"})
_MONTH_FACTS: Final = frozenset({"move_in_date", "registration_date", "issue_date", "expiry_date"})


def mask_fact(name: str, value: object) -> str:
    """A fact as staff see it by default: addresses to the township, household and unit
    numbers starred, dates to the month; other facts (use, share, months…) as they are."""
    if value is None:
        return ""
    text = str(value)
    if name == "address":
        return mask_address(text)
    if name in _MASKED_FACTS:
        return text[:2] + "*" * max(len(text) - 2, 0)
    if name in _MONTH_FACTS:
        return text[:7]
    return text


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
    private_school_code: str | None
    """The private school chosen (公民同招), tried first in placement."""
    private_school_name: str | None
    primary_school_code: str | None
    """小升初: the primary school the child graduates from."""
    age_exception: str | None
    created_at: datetime
    updated_at: datetime
    details_loaded: bool = False
    """Whether the fields below were read with the application (a single application). In a
    work list they are not: a page reads them in one statement per kind, on demand (see
    :mod:`ruxue_core.services.worklist`)."""
    evidence: tuple[EvidenceView, ...] = ()
    assessment: AssessmentView | None = None
    consent_ref: str | None = None
    outstanding_materials: tuple[MaterialNeeded, ...] = ()
    """The assessment's materials not yet provided (uploaded or seen at the counter)."""


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
        assessment = uow.session.exec(
            select(Assessment)
            .where(col(Assessment.application_id) == case.id)
            .order_by(col(Assessment.round).desc())
            .limit(1)
        ).first()
        consent = uow.session.exec(
            select(Consent.ref).where(col(Consent.application_id) == case.id)
        ).first()
        names = material_names(case.season.policy)
        view = application_view(uow, case)
        checked = assessment_view(assessment, names) if assessment else None
        provided: set[str] = set()
        if checked is not None:
            provided = set(
                uow.session.exec(
                    select(Material.kind).where(col(Material.application_id) == case.id)
                )
            )
        return replace(
            view,
            details_loaded=True,
            evidence=tuple(evidence_view(uow.cipher, e) for e in evidence),
            assessment=checked,
            consent_ref=consent,
            outstanding_materials=outstanding(checked, provided),
        )

    return await rt.read(read)


def outstanding(
    assessment: AssessmentView | None, provided: Collection[str]
) -> tuple[MaterialNeeded, ...]:
    """The materials an assessment asks for that are not provided yet (uploaded, or seen at
    the counter): ``provided`` holds the kinds on record."""
    if assessment is None:
        return ()
    return still_needed(assessment.materials, provided)


def still_needed(
    requested: Iterable[MaterialNeeded], provided: Collection[str]
) -> tuple[MaterialNeeded, ...]:
    """The one rule for outstanding materials: those requested whose kind is not on record
    (uploaded, or seen at the counter), in the order requested. The work list's filter is
    the same rule in SQL (``worklist.outstanding_clause``)."""
    return tuple(m for m in requested if m.code not in provided)


def material_names(policy: Mapping[str, Any]) -> dict[str, str]:
    """Material code → name, from a season's stored policy."""
    return {m["code"]: m["name"] for m in policy.get("materials", [])}


def assessment_view(row: Assessment, names: Mapping[str, str]) -> AssessmentView:
    """The view of a stored assessment (material codes named from the season)."""
    assert row.id is not None
    return AssessmentView(
        application_id=row.application_id,
        round=row.round,
        decision=row.decision,
        reason_code=row.reason_code,
        reason=row.reason,
        category=row.category,
        category_name=row.category_name,
        address_proven_by=row.address_proven_by,
        schools=tuple(row.schools),
        materials=tuple(MaterialNeeded(code, names.get(code, code)) for code in row.materials),
        corrections=tuple(row.corrections),
    )


async def assessments(
    rt: Runtime, principal: Principal | None, *, first_round: bool = False
) -> list[AssessmentView]:
    """Every application's latest (or first) assessment: for the bureau and reports.

    :raises Forbidden: not the bureau, an auditor or the system.
    """
    require_role(principal, Role.BUREAU_OFFICER, Role.AUDITOR, Role.SYSTEM)

    def read(uow: UnitOfWork) -> list[AssessmentView]:
        rows = uow.session.exec(select(Assessment).order_by(col(Assessment.round))).all()
        chosen: dict[int, Assessment] = {}
        for row in rows:
            if not first_round or row.application_id not in chosen:
                chosen[row.application_id] = row
        return [assessment_view(row, {}) for row in chosen.values()]

    return await rt.read(read)


def application_view(uow: UnitOfWork, case: Case) -> ApplicationView:
    """The masked view of a loaded case, without what hangs off it (``details_loaded`` off)."""
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
        private_school_code=case.private_school.code if case.private_school else None,
        private_school_name=case.private_school.name if case.private_school else None,
        primary_school_code=application.primary_school_code,
        age_exception=application.age_exception,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )


def evidence_view(cipher: PiiCipher, e: Evidence) -> EvidenceView:
    """One stored check as shown: outcome, reason, evidence reference and the facts masked."""
    facts = cipher.decrypt_json(e.facts_ct, purpose="evidence.facts")
    masked = tuple((k, mask_fact(k, v)) for k, v in sorted(facts.items()) if v is not None)
    return EvidenceView(
        e.source,
        e.subject,
        e.outcome,
        OUTCOME_LABELS[e.outcome],
        e.reason,
        e.checked_at,
        facts=masked,
        source_record_id=e.source_record_id,
        consent_ref=e.consent_ref,
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
