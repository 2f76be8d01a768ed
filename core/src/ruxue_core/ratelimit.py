"""An in-process sliding-window rate limiter, for the anonymous lookup per client address.

State lives in this process: behind a load balancer each gateway counts its own share, which
bounds an attacker at (limit × gateways) per window; the per-receipt lockout in the database
holds across all of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Final

MAX_KEYS: Final = 100_000


class SlidingWindowLimiter:
    """Allows ``limit`` hits per key within any ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, limit: int) -> bool:
        """Record a hit for ``key`` unless it already had ``limit`` in the window."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            if len(self._hits) > MAX_KEYS:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True
