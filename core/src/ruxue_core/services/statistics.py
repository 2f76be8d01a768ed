"""Counts for the back offices: applications per state, township, school and channel,
verification outcomes per source, and the review backlog with its ageing. Every count is cut
by the caller's scope (the one policy's SQL form), so a township's counter staff count their
township, a school's reviewer their school, and bureau officers the district.

The category (入学类别) is the latest assessment's. ``aggregation`` is the shape a province
sums over its districts: one row per (township, school, category, channel, status) with its
count, each row naming the district.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, func

from ruxue_core.domain import Application, Assessment, Evidence, Region, School, Season
from ruxue_core.domain.enums import (
    CHANNEL_LABELS,
    STATUS_LABELS,
    Channel,
    Outcome,
    Role,
    Status,
)
from ruxue_core.errors import InvalidInput
from ruxue_core.permissions import DISTRICT_ROLES, STAFF_ROLES, require_role, scope_clause
from ruxue_core.plugins.contracts import Principal
from ruxue_core.rules.fields import CODE
from ruxue_core.runtime import Runtime
from ruxue_core.services.worklist import latest_round
from ruxue_core.uow import UnitOfWork

REVIEW_STATES: Final = (Status.MANUAL_REVIEW, Status.SCHOOL_REVIEW, Status.BUREAU_REVIEW)
"""States in which an application waits for staff (the review backlog)."""
AGE_BUCKETS: Final = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
"""Backlog ageing: under 1 day, 1–3 days, 3–7 days, 7 days or more since the last change."""
NO_SCHOOL: Final = "未分配学校"
UNKNOWN_TOWNSHIP: Final = "未知乡镇"
NO_CATEGORY: Final = "未确定类别"


@dataclass(frozen=True, slots=True)
class Count:
    """How many applications have one value of a breakdown (``key`` ``None``: none)."""

    key: str | None
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class SourceOutcomes:
    """One verification source's checks (latest round or not, every check counts once)."""

    source: str
    checks: int
    matched: int
    mismatched: int
    undecided: int

    @property
    def pass_rate(self) -> float | None:
        """Matched checks over all checks; ``None`` before the first check."""
        return self.matched / self.checks if self.checks else None


@dataclass(frozen=True, slots=True)
class Backlog:
    """Applications waiting in one review state, by time since their last change."""

    status: Status
    label: str
    count: int
    ageing: tuple[int, int, int, int]
    """Counts under 1 day, 1–3 days, 3–7 days and 7 days or more."""
    oldest_since: datetime | None


@dataclass(frozen=True, slots=True)
class AggregationRow:
    """One cell of the district's counts, for a province to sum across districts."""

    district_code: str
    township_code: str | None
    school_code: str | None
    category: str | None
    channel: Channel
    status: Status
    count: int


@dataclass(frozen=True, slots=True)
class Statistics:
    """Counts within the caller's scope, as of ``as_of``.

    :ivar scope: ``district``, ``township:<code>`` or ``school:<code>``.
    """

    scope: str
    season_code: str | None
    as_of: datetime
    total: int
    by_status: tuple[Count, ...]
    by_township: tuple[Count, ...]
    by_school: tuple[Count, ...]
    by_channel: tuple[Count, ...]
    verification: tuple[SourceOutcomes, ...]
    backlog: tuple[Backlog, ...]
    district_code: str = ""
    by_category: tuple[Count, ...] = ()
    aggregation: tuple[AggregationRow, ...] = ()


async def statistics(
    rt: Runtime, principal: Principal | None, *, season_code: str | None = None
) -> Statistics:
    """Counts of the applications in the caller's scope (of one season, if given).

    :raises Forbidden: not staff.
    :raises InvalidInput: a malformed season code.
    """
    actor = require_role(principal, *STAFF_ROLES)
    if season_code is not None and not CODE.fullmatch(season_code):
        raise InvalidInput("代码格式不正确", field="seasonCode")
    return await rt.read(lambda uow: _statistics(uow, actor, season_code))


def _scope_name(actor: Principal) -> str:
    if actor.role in DISTRICT_ROLES:
        return "district"
    if actor.role is Role.COUNTER_STAFF:
        return f"township:{actor.region_code}"
    return f"school:{actor.school_code}"


def _statistics(uow: UnitOfWork, actor: Principal, season_code: str | None) -> Statistics:
    where: list[sa.ColumnElement[bool]] = [scope_clause(actor, uow.cipher)]
    if season_code is not None:
        season = sa.select(col(Season.id)).where(col(Season.code) == season_code)
        where.append(col(Application.season_id).in_(season.scalar_subquery()))

    def grouped(*columns: Any, joins: tuple[tuple[Any, Any], ...] = ()) -> list[Any]:
        statement = sa.select(*columns, func.count()).select_from(Application)
        for table, on in joins:
            statement = statement.outerjoin(table, on)
        statement = statement.where(*where).group_by(*columns).order_by(*columns)
        return list(uow.session.execute(statement).all())

    township = ((Region, col(Region.code) == Application.township_code),)
    by_township = tuple(
        Count(code, name or UNKNOWN_TOWNSHIP, n)
        for code, name, n in grouped(
            col(Application.township_code), col(Region.name), joins=township
        )
    )
    school = ((School, col(School.id) == Application.school_id),)
    by_school = tuple(
        Count(code, name or NO_SCHOOL, n)
        for code, name, n in grouped(col(School.code), col(School.name), joins=school)
    )
    latest = aliased(Assessment)
    assessed = (
        (
            latest,
            sa.and_(
                col(latest.application_id) == Application.id,
                col(latest.round) == latest_round(latest),
            ),
        ),
    )
    district = uow.settings.district_code
    # One statement for the cube; status, channel and category counts are its margins.
    cells = grouped(
        col(Application.township_code),
        col(School.code),
        col(latest.category),
        col(latest.category_name),
        col(Application.channel),
        col(Application.status),
        joins=(*school, *assessed),
    )
    aggregation = tuple(
        AggregationRow(district, township, code, category, Channel(channel), Status(status), n)
        for township, code, category, _, channel, status, n in cells
    )
    category_names = {row[2]: row[3] for row in cells}
    by_status = tuple(
        Count(key.value, STATUS_LABELS[key], n)
        for key, n in _margin(aggregation, lambda a: a.status)
    )
    by_channel = tuple(
        Count(key.value, CHANNEL_LABELS[key], n)
        for key, n in _margin(aggregation, lambda a: a.channel)
    )
    by_category = tuple(
        Count(key, category_names.get(key) or NO_CATEGORY, n)
        for key, n in _margin(aggregation, lambda a: a.category)
    )
    return Statistics(
        scope=_scope_name(actor),
        season_code=season_code,
        as_of=uow.now,
        total=sum(c.count for c in by_status),
        by_status=by_status,
        by_township=by_township,
        by_school=by_school,
        by_channel=by_channel,
        verification=_verification(uow, where),
        backlog=_backlog(uow, where),
        district_code=district,
        by_category=by_category,
        aggregation=aggregation,
    )


K = TypeVar("K", Status, Channel, str | None)


def _margin(
    cells: tuple[AggregationRow, ...], key: Callable[[AggregationRow], K]
) -> list[tuple[K, int]]:
    """Counts summed over every other dimension, by ``key`` (ordered, ``None`` first)."""
    totals: Counter[K] = Counter()
    for cell in cells:
        totals[key(cell)] += cell.count
    return sorted(totals.items(), key=lambda item: (item[0] is not None, str(item[0] or "")))


def _verification(
    uow: UnitOfWork, where: list[sa.ColumnElement[bool]]
) -> tuple[SourceOutcomes, ...]:
    outcome = col(Evidence.outcome)
    statement = (
        sa.select(
            col(Evidence.source),
            func.count(),
            func.sum(sa.case((outcome == Outcome.MATCH, 1), else_=0)),
            func.sum(sa.case((outcome == Outcome.MISMATCH, 1), else_=0)),
        )
        .select_from(Evidence)
        .join(Application, col(Application.id) == Evidence.application_id)
        .where(*where)
        .group_by(col(Evidence.source))
        .order_by(col(Evidence.source))
    )
    return tuple(
        SourceOutcomes(source, int(n), int(matched), int(mismatched), int(n - matched - mismatched))
        for source, n, matched, mismatched in uow.session.execute(statement).all()
    )


def _backlog(uow: UnitOfWork, where: list[sa.ColumnElement[bool]]) -> tuple[Backlog, ...]:
    changed = col(Application.updated_at)
    limits = [uow.now - age for age in AGE_BUCKETS]
    buckets = [
        func.sum(sa.case((changed > limits[0], 1), else_=0)),
        func.sum(sa.case((sa.and_(changed <= limits[0], changed > limits[1]), 1), else_=0)),
        func.sum(sa.case((sa.and_(changed <= limits[1], changed > limits[2]), 1), else_=0)),
        func.sum(sa.case((changed <= limits[2], 1), else_=0)),
    ]
    status = col(Application.status)
    statement = (
        sa.select(status, func.count(), func.min(changed), *buckets)
        .where(*where, status.in_(REVIEW_STATES))
        .group_by(status)
    )
    found = {row[0]: row for row in uow.session.execute(statement).all()}
    backlog = []
    for state in REVIEW_STATES:
        row = found.get(state)
        if row is None:
            backlog.append(Backlog(state, STATUS_LABELS[state], 0, (0, 0, 0, 0), None))
            continue
        _, n, oldest, *ages = row
        ageing = (int(ages[0]), int(ages[1]), int(ages[2]), int(ages[3]))
        backlog.append(Backlog(state, STATUS_LABELS[state], int(n), ageing, oldest))
    return tuple(backlog)
