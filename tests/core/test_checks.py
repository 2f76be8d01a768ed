"""The check engine: per-source concurrency limit, circuit breaker (open, half-open probe),
bounded retries, timeouts; and the breaker on its own."""

from __future__ import annotations

import asyncio

import pytest

from ruxue_core.breaker import BreakerState, CircuitBreaker, CircuitOpen
from ruxue_core.checks import SourceGuards, run_check, run_checks
from ruxue_core.domain.enums import Outcome
from ruxue_core.errors import TemporaryPluginError
from ruxue_core.plugins.contracts import VerificationRequest
from ruxue_core.plugins.host import SelectedVerifier
from ruxue_core.settings import VerificationSettings
from ruxue_core.testing.fakes import FakeVerifier


def request(n: int, source: str = "hukou") -> VerificationRequest:
    return VerificationRequest(source, "child", "x", "名", "址", "purpose", f"r{n}")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (the clock moves it)."""
    return breaker.state


def test_breaker_opens_after_failures_in_a_row_and_probes_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    for _ in range(2):
        breaker.acquire()
        breaker.failure()
    breaker.acquire()
    breaker.success()  # a success resets the count
    for _ in range(3):
        breaker.acquire()
        breaker.failure()
    assert state(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.acquire()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # only one
    breaker.failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now = 20.0
    breaker.acquire()
    breaker.success()
    assert state(breaker) is BreakerState.CLOSED


async def test_the_per_source_limit_bounds_calls_in_flight() -> None:
    policy = VerificationSettings(per_source_limit=3, timeout_seconds=5)
    guards = SourceGuards(policy)
    in_flight = peak = 0

    class Counting(FakeVerifier):
        async def verify(self, req: VerificationRequest):  # type: ignore[no-untyped-def]
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            return await super().verify(req)

    selected = SelectedVerifier("fake", ("hukou",), Counting())
    results = await run_checks([(selected, request(i)) for i in range(12)], guards)
    assert [r.outcome for r in results] == [Outcome.MATCH] * 12
    assert peak == 3


async def test_an_open_breaker_answers_unavailable_without_calling() -> None:
    policy = VerificationSettings(attempts=2, wait_initial=0, wait_max=0, breaker_threshold=2)
    guards = SourceGuards(policy)
    verifier = FakeVerifier(TemporaryPluginError)
    selected = SelectedVerifier("fake", ("hukou",), verifier)
    for n in range(2):
        result = await run_check(selected, request(n), guards)
        assert result.outcome is Outcome.SOURCE_UNAVAILABLE
    assert len(verifier.requests) == 4  # two checks, two attempts each
    refused = await run_check(selected, request(9), guards)
    assert refused.outcome is Outcome.SOURCE_UNAVAILABLE
    assert refused.reason is not None and "熔断" in refused.reason
    assert len(verifier.requests) == 4, "the open breaker made no call"
    other = await run_check(
        SelectedVerifier("ok", ("property",), FakeVerifier()), request(10, "property"), guards
    )
    assert other.outcome is Outcome.MATCH, "breakers are per source"


async def test_a_slow_source_times_out_per_attempt() -> None:
    policy = VerificationSettings(attempts=2, timeout_seconds=0.05, wait_initial=0, wait_max=0)
    verifier = FakeVerifier(delay=1.0)
    result = await run_check(
        SelectedVerifier("slow", ("hukou",), verifier), request(1), SourceGuards(policy)
    )
    assert result.outcome is Outcome.SOURCE_UNAVAILABLE
    assert result.reason is not None and "TimeoutError" in result.reason
    assert len(verifier.requests) == 2
