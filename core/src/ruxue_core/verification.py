"""Cross-department verification (数据核验): decide the checks, call the verifiers
concurrently under one timeout/retry policy, store Evidence, and fire the lifecycle event.

Outcome per application: every check matched → verified; any mismatch or missing record →
back to the guardian for correction; otherwise (undecidable, source down) → manual review.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

from sqlmodel import col, func, select
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ruxue_core import jobs
from ruxue_core.domain import Evidence
from ruxue_core.domain.enums import Outcome, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.lifecycle import Case, Event, apply_event, load_case
from ruxue_core.plugins.contracts import (
    EvidenceRef,
    Principal,
    VerificationRequest,
    VerificationResult,
)
from ruxue_core.settings import VerificationSettings
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core.plugins.host import SelectedVerifier

log = logging.getLogger(__name__)

PURPOSE: Final = "义务教育入学报名资格核验"
DEFAULT_CHECKS: Final = (("hukou", "child"),)


def outcome_event(outcomes: Sequence[Outcome], *, age_exception: bool = False) -> Event:
    """The lifecycle event that a set of check outcomes leads to.

    An application outside the normal age window (缓学, 提前入学) goes to manual review once
    nothing asks the family to correct something first.
    """
    if any(o in (Outcome.MISMATCH, Outcome.NOT_FOUND) for o in outcomes):
        return Event.FAIL_VERIFICATION
    if outcomes and all(o is Outcome.MATCH for o in outcomes) and not age_exception:
        return Event.PASS_VERIFICATION
    return Event.REFER_TO_MANUAL


async def call_verifier(
    selected: SelectedVerifier, request: VerificationRequest, policy: VerificationSettings
) -> VerificationResult:
    """One check with the core's policy: per-attempt timeout, jittered retries on temporary
    faults; a source still failing afterwards is reported as ``SOURCE_UNAVAILABLE``."""
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_random_exponential(multiplier=policy.wait_initial, max=policy.wait_max),
            retry=retry_if_exception_type((TemporaryPluginError, TimeoutError)),
            before_sleep=before_sleep_log(log, logging.INFO),
            reraise=True,
        ):
            with attempt:
                async with asyncio.timeout(policy.timeout_seconds):
                    return await selected.verifier.verify(request)
    except (TemporaryPluginError, TimeoutError) as exc:
        reason = f"{selected.name}: {type(exc).__name__}: {exc}"
        return VerificationResult(
            Outcome.SOURCE_UNAVAILABLE, EvidenceRef(request.request_id, utcnow()), reason=reason
        )
    except PermanentPluginError as exc:
        return VerificationResult(
            Outcome.NEEDS_MANUAL_REVIEW,
            EvidenceRef(request.request_id, utcnow()),
            reason=f"{selected.name}: {exc}",
        )
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


async def run_handler(context: jobs.JobContext) -> jobs.Apply | None:
    """Job ``verification.run``: verify one submitted application.

    Every status change happens in a lease-guarded step: ``submitted → verifying`` before the
    checks, the outcome after them together with the evidence and the job's completion.
    """
    runtime = context.runtime
    application_id = int(context.job.payload["application_id"])
    requests = await context.transaction(lambda uow: _start(uow, application_id))
    if requests is None:
        return None  # withdrawn or voided meanwhile: nothing to verify
    checks = [(runtime.host.verifier_for(r.source), r) for r in requests]
    policy = runtime.settings.verification
    results = await asyncio.gather(
        *(
            call_verifier(selected, request, policy)
            if selected is not None
            else _no_verifier(request)
            for selected, request in checks
        )
    )

    def apply(uow: UnitOfWork) -> None:
        case = load_case(uow, application_id)
        if case is None or case.application.status is not Status.VERIFYING:
            return  # withdrawn while we were checking
        round_no = _next_round(uow, application_id)
        for (selected, request), result in zip(checks, results, strict=True):
            uow.insert_at_commit(
                _evidence(uow, application_id, round_no, selected, request, result)
            )
        event = outcome_event(
            [r.outcome for r in results],
            age_exception=case.application.age_exception is not None,
        )
        apply_event(uow, case, event, Principal.system())

    return apply


def _start(uow: UnitOfWork, application_id: int) -> list[VerificationRequest] | None:
    case = load_case(uow, application_id)
    if case is None or case.application.status not in (Status.SUBMITTED, Status.VERIFYING):
        return None
    if case.application.status is Status.SUBMITTED:
        apply_event(uow, case, Event.START_VERIFICATION, Principal.system())
    return _requests(uow, case)


def _requests(uow: UnitOfWork, case: Case) -> list[VerificationRequest]:
    """The checks this application needs (from the season's policy; hukou by default)."""
    cipher = uow.cipher
    guardian_id = cipher.decrypt(case.guardian.id_number_ct, purpose="guardian.id_number")
    people = {
        "child": (
            cipher.decrypt(case.child.id_number_ct, purpose="child.id_number"),
            case.child.name,
        ),
        "guardian": (guardian_id, case.guardian.name),
    }
    address = cipher.decrypt(case.application.address_ct, purpose="application.address")
    return [
        VerificationRequest(
            source=source,
            subject=subject,
            id_number=people[subject][0],
            name=people[subject][1],
            claimed_address=address,
            purpose=PURPOSE,
            request_id=uuid.uuid4().hex,
            guardian_id_number=guardian_id if subject == "child" else None,
        )
        for source, subject in DEFAULT_CHECKS
    ]


async def _no_verifier(request: VerificationRequest) -> VerificationResult:
    return VerificationResult(
        Outcome.NEEDS_MANUAL_REVIEW,
        EvidenceRef(request.request_id, utcnow()),
        reason=f"未配置 {request.source} 核验插件",
    )


def _next_round(uow: UnitOfWork, application_id: int) -> int:
    current = uow.session.exec(
        select(func.max(Evidence.round)).where(col(Evidence.application_id) == application_id)
    ).one()
    return (current or 0) + 1


def _evidence(
    uow: UnitOfWork,
    application_id: int,
    round_no: int,
    selected: SelectedVerifier | None,
    request: VerificationRequest,
    result: VerificationResult,
) -> Evidence:
    facts = {k: v.isoformat() if isinstance(v, date) else v for k, v in result.facts.items()}
    return Evidence(
        application_id=application_id,
        round=round_no,
        source=request.source,
        subject=request.subject,
        plugin=selected.name if selected else "",
        outcome=result.outcome,
        facts_ct=uow.cipher.encrypt_json(facts, purpose="evidence.facts"),
        reason=result.reason,
        request_id=result.evidence.request_id,
        source_record_id=result.evidence.source_record_id,
        checked_at=result.evidence.checked_at,
    )
