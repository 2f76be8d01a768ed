"""The check engine: every verifier call goes through one policy per data source.

Per source: at most ``per_source_limit`` calls in flight (a semaphore held only while an
attempt runs, not while backing off), a timeout per attempt, bounded retries with jittered
exponential backoff on temporary faults, and a circuit breaker around the whole retried
check. A source still failing afterwards answers ``SOURCE_UNAVAILABLE``; a permanent fault
answers ``NEEDS_MANUAL_REVIEW``. Nothing here raises for a department's fault.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ruxue_core.breaker import CircuitBreaker, CircuitOpen
from ruxue_core.domain.enums import Outcome
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import EvidenceRef, VerificationRequest, VerificationResult
from ruxue_core.settings import VerificationSettings

if TYPE_CHECKING:
    from ruxue_core.plugins.host import SelectedVerifier

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceGuard:
    """One source's concurrency limit and circuit breaker."""

    limit: asyncio.Semaphore
    breaker: CircuitBreaker


@dataclass(slots=True)
class SourceGuards:
    """The guards of every source, created on first use; one set per process (runtime)."""

    policy: VerificationSettings
    _guards: dict[str, SourceGuard] = field(default_factory=dict)

    def for_source(self, source: str) -> SourceGuard:
        """The guard of ``source``."""
        guard = self._guards.get(source)
        if guard is None:
            guard = SourceGuard(
                asyncio.Semaphore(self.policy.per_source_limit),
                CircuitBreaker(self.policy.breaker_threshold, self.policy.breaker_reset_seconds),
            )
            self._guards[source] = guard
        return guard


def _unavailable(request: VerificationRequest, reason: str) -> VerificationResult:
    return VerificationResult(
        Outcome.SOURCE_UNAVAILABLE, EvidenceRef(request.request_id, utcnow()), reason=reason
    )


async def _attempts(
    selected: SelectedVerifier,
    request: VerificationRequest,
    guard: SourceGuard,
    policy: VerificationSettings,
) -> VerificationResult:
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_random_exponential(multiplier=policy.wait_initial, max=policy.wait_max),
        retry=retry_if_exception_type((TemporaryPluginError, TimeoutError)),
        before_sleep=before_sleep_log(log, logging.DEBUG),
        reraise=True,
    ):
        with attempt:
            async with guard.limit, asyncio.timeout(policy.timeout_seconds):
                return await selected.verifier.verify(request)
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


async def run_check(
    selected: SelectedVerifier | None,
    request: VerificationRequest,
    guards: SourceGuards,
) -> VerificationResult:
    """One check under the source's policy; always returns a result."""
    if selected is None:
        return VerificationResult(
            Outcome.NEEDS_MANUAL_REVIEW,
            EvidenceRef(request.request_id, utcnow()),
            reason=f"未配置 {request.source} 核验插件",
        )
    guard = guards.for_source(request.source)
    try:
        guard.breaker.acquire()
    except CircuitOpen:
        return _unavailable(request, f"{selected.name}: 数据源熔断中，暂停调用")
    try:
        result = await _attempts(selected, request, guard, guards.policy)
    except (TemporaryPluginError, TimeoutError) as exc:
        guard.breaker.failure()
        return _unavailable(request, f"{selected.name}: {type(exc).__name__}: {exc}"[:200])
    except PermanentPluginError as exc:
        guard.breaker.success()  # the source answered; the request itself was refused
        return VerificationResult(
            Outcome.NEEDS_MANUAL_REVIEW,
            EvidenceRef(request.request_id, utcnow()),
            reason=f"{selected.name}: {exc}"[:200],
        )
    except BaseException:
        guard.breaker.release()  # cancelled: neither a success nor the source's failure
        raise
    guard.breaker.success()
    return result


async def run_checks(
    checks: Sequence[tuple[SelectedVerifier | None, VerificationRequest]],
    guards: SourceGuards,
) -> list[VerificationResult]:
    """Run checks concurrently, each under its source's policy; results in order."""
    return list(await asyncio.gather(*(run_check(s, r, guards) for s, r in checks)))
