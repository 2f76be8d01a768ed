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

from ruxue_core.domain import Application, Child, Evidence, Guardian
from ruxue_core.domain.enums import Outcome, Status
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.lifecycle import Event, apply_event
from ruxue_core.plugins.contracts import (
    EvidenceRef,
    Principal,
    VerificationRequest,
    VerificationResult,
)
from ruxue_core.settings import VerificationSettings
from ruxue_core.uow import UnitOfWork

if TYPE_CHECKING:
    from ruxue_core import jobs
    from ruxue_core.plugins.host import SelectedVerifier
    from ruxue_core.runtime import Runtime

log = logging.getLogger(__name__)

PURPOSE: Final = "义务教育入学报名资格核验"
DEFAULT_CHECKS: Final = (("hukou", "child"),)


def outcome_event(outcomes: Sequence[Outcome]) -> Event:
    """The lifecycle event that a set of check outcomes leads to."""
    if any(o in (Outcome.MISMATCH, Outcome.NOT_FOUND) for o in outcomes):
        return Event.FAIL_VERIFICATION
    if outcomes and all(o is Outcome.MATCH for o in outcomes):
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


async def run_handler(runtime: Runtime, job: jobs.ClaimedJob) -> jobs.Apply | None:
    """Job ``verification.run``: verify one submitted application."""
    application_id = int(job.payload["application_id"])
    async with runtime.unit_of_work() as uow:
        application = await uow.session.get(Application, application_id)
        if application is None or application.status not in (Status.SUBMITTED, Status.VERIFYING):
            return None  # withdrawn or voided meanwhile: nothing to verify
        if application.status is Status.SUBMITTED:
            await apply_event(uow, application, Event.START_VERIFICATION, Principal.system())
        requests = await _requests(uow, application)
        await uow.commit()
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

    async def apply(uow: UnitOfWork) -> None:
        stored = await uow.session.get(Application, application_id)
        assert stored is not None
        if stored.status is not Status.VERIFYING:
            return  # withdrawn while we were checking
        round_no = await _next_round(uow, application_id)
        for (selected, request), result in zip(checks, results, strict=True):
            uow.session.add(_evidence(application_id, round_no, selected, request, result))
        event = outcome_event([r.outcome for r in results])
        await apply_event(uow, stored, event, Principal.system())

    return apply


async def _requests(uow: UnitOfWork, application: Application) -> list[VerificationRequest]:
    """The checks this application needs (from the season's policy; hukou by default)."""
    child = await uow.session.get(Child, application.child_id)
    guardian = await uow.session.get(Guardian, application.guardian_id)
    assert child is not None and guardian is not None
    guardian_id = uow.cipher.decrypt(guardian.id_number_ct, purpose="guardian.id_number")
    people = {
        "child": (uow.cipher.decrypt(child.id_number_ct, purpose="child.id_number"), child.name),
        "guardian": (guardian_id, guardian.name),
    }
    return [
        VerificationRequest(
            source=source,
            subject=subject,
            id_number=people[subject][0],
            name=people[subject][1],
            claimed_address=application.address,
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


async def _next_round(uow: UnitOfWork, application_id: int) -> int:
    current = (
        await uow.session.exec(
            select(func.max(Evidence.round)).where(col(Evidence.application_id) == application_id)
        )
    ).one()
    return (current or 0) + 1


def _evidence(
    application_id: int,
    round_no: int,
    selected: SelectedVerifier | None,
    request: VerificationRequest,
    result: VerificationResult,
) -> Evidence:
    return Evidence(
        application_id=application_id,
        round=round_no,
        source=request.source,
        subject=request.subject,
        plugin=selected.name if selected else "",
        outcome=result.outcome,
        facts={k: v.isoformat() if isinstance(v, date) else v for k, v in result.facts.items()},
        reason=result.reason,
        request_id=result.evidence.request_id,
        source_record_id=result.evidence.source_record_id,
        checked_at=result.evidence.checked_at,
    )
