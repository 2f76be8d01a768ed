"""SMS vendors' shared state: weighted choice that shifts away from a failing vendor, and
per-vendor rate limits that hold across every worker.

Modelled on GOV.UK Notify: a vendor is picked at random by weight, and a vendor that errors
loses weight and regains it as it recovers. Here the weight follows the vendor's recent error
rate continuously: ``sends`` and ``errors`` are counts that halve every
``sms.error_half_life_seconds``, and the effective weight is
``weight × max(min_weight_share, (1 − error rate)²)``; a vendor that only fails keeps a small
share, so its recovery is noticed.

The rate limit is a GCRA slot kept in the vendor's row (``tat``, by the database's clock):
each send reserves the next slot under a row lock and waits for it, so the vendor never sees
more than ``rate_per_second`` sends per second plus ``burst``, however many workers send.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from ruxue_core.clock import db_now
from ruxue_core.domain import SmsVendorState
from ruxue_core.settings import SmsSettings

MIN_SAMPLE = 5.0
"""Sends counted at least, so that one early error does not look like a 100 % error rate."""


def lock(session: Session, names: Sequence[str]) -> dict[str, SmsVendorState]:
    """The state rows of ``names``, created if missing and locked for this transaction."""
    query = select(SmsVendorState).where(col(SmsVendorState.name).in_(names))
    query = query.order_by(col(SmsVendorState.name)).with_for_update()
    states = {state.name: state for state in session.exec(query).all()}
    missing = [name for name in names if name not in states]
    if missing:
        postgres = session.get_bind().dialect.name == "postgresql"
        insert = postgresql.insert if postgres else sqlite.insert
        session.execute(
            insert(SmsVendorState)
            .values(
                [
                    {"name": n, "tat": 0.0, "sends": 0.0, "errors": 0.0, "scored_at": 0.0}
                    for n in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        states = {state.name: state for state in session.exec(query).all()}
    return states


def database_clock(session: Session) -> float:
    """The database's current time in seconds since the epoch."""
    value = session.execute(sa.select(db_now(session.get_bind().dialect.name))).scalar_one()
    if isinstance(value, str):  # SQLite without a declared type hands back the text
        value = datetime.fromisoformat(value[:26])
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC).timestamp()


def _decay(state: SmsVendorState, now: float, settings: SmsSettings) -> None:
    elapsed = max(0.0, now - state.scored_at)
    factor = 0.5 ** (elapsed / settings.error_half_life_seconds)
    state.sends *= factor
    state.errors *= factor
    state.scored_at = max(now, state.scored_at)


def error_rate(state: SmsVendorState) -> float:
    """The vendor's recent share of failed sends (decayed counts)."""
    return min(1.0, state.errors / max(state.sends, MIN_SAMPLE))


def effective_weight(state: SmsVendorState, now: float, settings: SmsSettings) -> float:
    """The vendor's configured weight scaled down by its recent error rate."""
    _decay(state, now, settings)
    health = (1.0 - error_rate(state)) ** 2
    return settings.vendor(state.name).weight * max(settings.min_weight_share, health)


def choose(states: Mapping[str, SmsVendorState], now: float, settings: SmsSettings) -> str:
    """Pick a vendor at random by effective weight (in configured order when all weigh 0)."""
    names = list(states)
    weights = [effective_weight(states[name], now, settings) for name in names]
    if sum(weights) <= 0:
        return names[0]
    return random.choices(names, weights=weights)[0]  # noqa: S311 - load balancing


def record(
    state: SmsVendorState, now: float, settings: SmsSettings, *, sends: int = 1, errors: int = 0
) -> None:
    """Count outcomes (``sends`` calls, ``errors`` of them failed) in the decaying tallies."""
    _decay(state, now, settings)
    state.sends += float(sends)
    state.errors += float(errors)


class Pacer:
    """Keeps this process's sends to one vendor at least an interval apart at the moment they
    leave, not only at the moment their slots were reserved: after the event loop stalls,
    overdue sends go one interval after another instead of all at once. Sends take their
    turn in the order they asked (an asyncio lock is first come, first served)."""

    def __init__(self) -> None:
        self._turn = asyncio.Lock()
        self._last = float("-inf")

    async def depart(self, not_before: float, interval: float) -> None:
        """Return at ``not_before`` (monotonic) or one ``interval`` after the previous send,
        whichever is later."""
        async with self._turn:
            delay = max(not_before, self._last + interval) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._last = time.monotonic()


class Tallies:
    """Outcomes this process saw since it last wrote them to the vendors' rows.

    Writing each outcome as it happens would lock a vendor row in every send's final step,
    and a group of final steps would lock several in arbitrary order (deadlocks on
    PostgreSQL). Instead they are counted here, on the event loop, and written by the next
    claim, which holds those rows locked anyway.
    """

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}

    def add(self, vendor: str, *, error: bool) -> None:
        """Count one call to ``vendor``."""
        counts = self._counts.setdefault(vendor, [0, 0])
        counts[0] += 1
        counts[1] += int(error)

    def take(self, vendors: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Remove and return the ``(sends, errors)`` counted for ``vendors``."""
        taken = {v: self._counts.pop(v) for v in vendors if v in self._counts}
        return {v: (sends, errors) for v, (sends, errors) in taken.items()}


def reserve(state: SmsVendorState, now: float, settings: SmsSettings) -> float:
    """Take the vendor's next rate-limit slot; return the seconds to wait for it (GCRA)."""
    vendor = settings.vendor(state.name)
    if vendor.rate_per_second is None:
        return 0.0
    interval = 1.0 / vendor.rate_per_second
    tolerance = (vendor.burst - 1) * interval
    arrival = max(state.tat, now)
    send_at = max(now, arrival - tolerance)
    state.tat = arrival + interval
    return send_at - now


def weights(session: Session, names: Sequence[str], settings: SmsSettings) -> dict[str, float]:
    """Each vendor's effective weight now (for staff views and tests); reads only."""
    now = datetime.now(UTC).timestamp()
    rows = session.exec(select(SmsVendorState).where(col(SmsVendorState.name).in_(names))).all()
    found = {row.name: row for row in rows}
    result: dict[str, float] = {}
    for name in names:
        state = found.get(name) or SmsVendorState(name=name)
        copy = SmsVendorState(
            name=name,
            tat=state.tat,
            sends=state.sends,
            errors=state.errors,
            scored_at=state.scored_at,
        )
        result[name] = effective_weight(copy, now, settings)
    return result
