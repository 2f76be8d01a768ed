"""Cross-department verification (数据核验): the ``verification.run`` job.

From the season's rules and the application it decides which checks are needed, runs them
through the check engine (:mod:`ruxue_core.checks`: per-source limits, timeouts, retries,
circuit breakers), stores each answer as Evidence (facts encrypted, with the consent it relied
on), lets the season's rules decide (:mod:`ruxue_core.rules.assessment`), stores that
Assessment, assigns the zoned school and fires the lifecycle event the decision and the
season's review route call for. It all runs in the outbox: no GraphQL request waits on it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core import jobs, routing
from ruxue_core.checks import run_checks
from ruxue_core.domain import Application, Assessment, Consent, Evidence, School
from ruxue_core.domain.enums import Status
from ruxue_core.lifecycle import Case, Event, apply_event, load_case
from ruxue_core.plugins.contracts import Principal, VerificationRequest, VerificationResult
from ruxue_core.rules import assessment as rules
from ruxue_core.rules.assessment import SeasonRules
from ruxue_core.unique import unique_hex
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.plugins.host import SelectedVerifier

PURPOSE: Final = "义务教育入学报名资格核验"

_EVENTS: Final = {
    rules.Decision.NEEDS_CORRECTION: Event.FAIL_VERIFICATION,
    rules.Decision.MANUAL_REVIEW: Event.REFER_TO_MANUAL,
}
NO_CONSENT: Final = rules.Assessment(
    rules.Decision.MANUAL_REVIEW,
    "no_consent",
    "申请人未授权核对共享数据，需线下核验原件",
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one verification round will ask, and how its answers will be judged."""

    season_rules: SeasonRules
    application: rules.Application
    requests: tuple[VerificationRequest, ...]
    consent_ref: str | None


async def run_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Job ``verification.run``: verify one submitted application.

    Every status change happens in a lease-guarded step: ``submitted → verifying`` before the
    checks; evidence, assessment, zoned school and outcome after them, together with the
    job's completion.
    """
    runtime = context.runtime
    application_id = int(context.job.payload["application_id"])
    started = await context.transaction(lambda uow: _start(uow, application_id))
    if started is None:
        return None  # withdrawn or voided meanwhile: nothing to verify
    loaded, plan = started
    checks = [(runtime.host.verifier_for(r.source), r) for r in plan.requests]
    results = await run_checks(checks, runtime.sources)

    def apply(uow: UnitOfWork) -> None:
        case = _unchanged_or_reloaded(uow, loaded)
        if case is None or case.application.status is not Status.VERIFYING:
            return  # withdrawn while we were checking
        conclude(uow, case, plan, checks, results)

    return apply


def conclude(
    uow: UnitOfWork,
    case: Case,
    plan: Plan,
    checks: Sequence[tuple[SelectedVerifier | None, VerificationRequest]],
    results: Sequence[VerificationResult],
) -> rules.Assessment:
    """Store the round's evidence and assessment and fire the event it leads to."""
    round_no = _next_round(uow, case.id)
    answers: dict[tuple[str, str], rules.Answer] = {}
    for (selected, request), result in zip(checks, results, strict=True):
        row = _evidence(uow, case.id, round_no, selected, request, result, plan)
        uow.insert_values_at_commit(Evidence, row)
        answers[(request.source, request.subject)] = rules.Answer(result.outcome, result.facts)
    verdict = NO_CONSENT
    if plan.consent_ref:
        verdict = rules.assess(plan.season_rules, plan.application, answers)
    school = _school(uow, case, verdict.schools[0]) if verdict.schools else None
    uow.insert_at_commit(
        Assessment(
            application_id=case.id,
            round=round_no,
            decision=verdict.decision.value,
            reason_code=verdict.reason_code,
            reason=verdict.reason[:200],
            category=verdict.category,
            category_name=verdict.category_name,
            address_proven_by=verdict.address_proven_by,
            schools=list(verdict.schools),
            materials=list(verdict.materials),
            corrections=list(verdict.corrections),
            assessed_at=uow.now,
        )
    )
    changes: dict[str, object] = {}
    if school is not None and school.id != case.application.school_id:
        changes["school_id"] = school.id
        case.school = school
    if verdict.decision is rules.Decision.VERIFIED:
        route = routing.route_of(case.season.policy)
        event = routing.after_verification(route, has_school=case.school is not None)
    else:
        event = _EVENTS[verdict.decision]
    apply_event(uow, case, event, Principal.system(), comment=verdict.reason[:200], changes=changes)
    return verdict


@functools.cache
def _school_by_code() -> sa.Select[School]:
    """``SELECT school … WHERE code = :code``, built once."""
    return sa.select(School).where(col(School.code) == sa.bindparam("code"))


def _school(uow: UnitOfWork, case: Case, code: str) -> School | None:
    """The zoned school ``code``: the case's own when it already is that one."""
    if case.school is not None and case.school.code == code:
        return case.school
    return uow.session.execute(_school_by_code(), {"code": code}).scalars().first()


def _start(uow: UnitOfWork, application_id: int) -> tuple[Case, Plan] | None:
    case = load_case(uow, application_id)
    if case is None or case.application.status not in (Status.SUBMITTED, Status.VERIFYING):
        return None
    if case.application.status is Status.SUBMITTED:
        apply_event(uow, case, Event.START_VERIFICATION, Principal.system())
    consent = uow.session.execute(_consent(), {"application_id": application_id}).scalars()
    return case, plan_for(uow, case, consent.first())


@functools.cache
def _consent() -> sa.Select[Consent]:
    """``SELECT consent … WHERE application_id = :application_id``, built once."""
    return sa.select(Consent).where(col(Consent.application_id) == sa.bindparam("application_id"))


@functools.cache
def _version() -> sa.Select[int]:
    """``SELECT version FROM application WHERE id = :application_id``, built once."""
    return sa.select(col(Application.version)).where(
        col(Application.id) == sa.bindparam("application_id")
    )


def _unchanged_or_reloaded(uow: UnitOfWork, case: Case) -> Case | None:
    """The case ``_start`` loaded, when its application's version is still the one it left
    (one narrow read instead of loading the case again); else the case as stored now."""
    parameters = {"application_id": case.id}
    version = uow.session.connection().execute(_version(), parameters).scalar()
    if version is not None and version == case.application.version:
        return case
    return load_case(uow, case.id)


def plan_for(uow: UnitOfWork, case: Case, consent: Consent | None) -> Plan:
    """The checks one application needs (from its season's rules), as requests."""
    season = case.season
    reference = season.opens_at.date()
    season_rules = rules.SeasonRules.of(season.policy, reference)
    cipher = uow.cipher
    address = cipher.decrypt(case.application.address_ct, purpose="application.address")
    application = rules.Application(
        address=address,
        relationship=case.application.relationship,
        township_code=case.application.township_code,
        age_exception=case.application.age_exception,
    )
    if consent is None:
        return Plan(season_rules, application, (), None)
    guardian_id = cipher.decrypt(case.guardian.id_number_ct, purpose="guardian.id_number")
    people = {
        "child": (
            cipher.decrypt(case.child.id_number_ct, purpose="child.id_number"),
            case.child.name,
        ),
        "guardian": (guardian_id, case.guardian.name),
    }
    window = season_rules.policy.insurance_window_months
    window_start = _months_before(reference, window)
    requests = tuple(
        VerificationRequest(
            source=source,
            subject=subject,
            id_number=people[subject][0],
            name=people[subject][1],
            claimed_address=address,
            purpose=PURPOSE,
            request_id=unique_hex(16),
            guardian_id_number=guardian_id if subject == "child" else None,
            consent_ref=consent.ref,
            acting_user=consent.recorded_by,
            case_ref=case.application.receipt_no,
            window_start=window_start if source == "social_insurance" else None,
        )
        for source, subject in season_rules.checks()
    )
    return Plan(season_rules, application, requests, consent.ref)


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, 1)


@functools.cache
def _last_round() -> sa.Select[int]:
    """``SELECT max(round) FROM evidence WHERE application_id = :application_id``, built once."""
    return sa.select(sa.func.max(col(Evidence.round))).where(
        col(Evidence.application_id) == sa.bindparam("application_id")
    )


def _next_round(uow: UnitOfWork, application_id: int) -> int:
    parameters = {"application_id": application_id}
    current = uow.session.connection().execute(_last_round(), parameters).scalar()
    return (current or 0) + 1


def _evidence(
    uow: UnitOfWork,
    application_id: int,
    round_no: int,
    selected: SelectedVerifier | None,
    request: VerificationRequest,
    result: VerificationResult,
    plan: Plan,
) -> dict[str, object]:
    """The Evidence row of one answer (facts encrypted), as column values."""
    facts = _plain(result.facts)
    return {
        "application_id": application_id,
        "round": round_no,
        "source": request.source,
        "subject": request.subject,
        "plugin": selected.name if selected else "",
        "outcome": result.outcome,
        "facts_ct": uow.cipher.encrypt_json(facts, purpose="evidence.facts"),
        "reason": result.reason[:200] if result.reason else None,
        "request_id": result.evidence.request_id,
        "source_record_id": result.evidence.source_record_id,
        "consent_ref": plan.consent_ref,
        "checked_at": result.evidence.checked_at,
    }


def _plain(facts: Mapping[str, object]) -> dict[str, object]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in facts.items()}
