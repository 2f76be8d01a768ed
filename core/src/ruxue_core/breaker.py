"""A small asyncio circuit breaker, one per data source.

Closed: calls pass; ``threshold`` consecutive failures open it. Open: calls are refused at
once (:class:`CircuitOpen`) until ``reset_seconds`` have passed. Half-open: one probe call is
let through; its success closes the breaker, its failure opens it again. The breaker wraps a
whole retried check, so retries do not count as separate trips.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The source's breaker is open: the call was not made."""


class CircuitBreaker:
    """Counts consecutive failures of one source and refuses calls while it is open.

    :param threshold: consecutive failures that open the breaker.
    :param reset_seconds: how long it stays open before one probe is let through.
    :param clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        threshold: int,
        reset_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose time is up reads half-open)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def acquire(self) -> None:
        """Ask to make a call: return if allowed, raise :class:`CircuitOpen` if not."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        raise CircuitOpen()

    def success(self) -> None:
        """Report that an allowed call succeeded: the breaker closes."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        """Report that an allowed call failed: open after ``threshold`` in a row (or at once
        when it was the half-open probe)."""
        self._failures += 1
        if self._probing or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """Forget an allowed call that ended neither way (cancelled): free the probe slot."""
        self._probing = False
