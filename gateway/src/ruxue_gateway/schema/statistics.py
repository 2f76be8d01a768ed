"""``statistics``: counts within the caller's scope for the back offices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.domain.enums import Channel, Status
from ruxue_core.services import statistics as core
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.errors import ForbiddenError, InvalidInputError


@strawberry.type(description="How many applications have one value of a breakdown.")
class StatCount:
    """``key`` is null for applications without a value (no school assigned yet)."""

    key: str | None
    label: str
    count: int

    @classmethod
    def of(cls, counts: tuple[core.Count, ...]) -> list[StatCount]:
        """Map the core's counts."""
        return [cls(key=c.key, label=c.label, count=c.count) for c in counts]


@strawberry.type(description="One verification source's checks (数据核验).")
class SourceStatistics:
    """``passRate`` = matched / checks (null before the first check)."""

    source: str
    checks: int
    matched: int
    mismatched: int
    undecided: int = strawberry.field(description="Not found, source down or needs a person.")
    pass_rate: float | None


@strawberry.type(description="Applications waiting in one review state, by age.")
class BacklogStatistics:
    """Age is the time since the application last changed (entered this state)."""

    status: Status
    status_label: str
    count: int
    under_one_day: int
    one_to_three_days: int
    three_to_seven_days: int
    seven_days_or_more: int
    oldest_since: datetime | None


@strawberry.type(description="One cell of the district's counts, for the province to sum.")
class AggregationRow:
    """Counts by (township, school, category, channel, status), naming the district."""

    district_code: str
    township_code: str | None
    school_code: str | None
    category: str | None
    channel: Channel
    status: Status
    count: int


@strawberry.type(description="统计: counts within your scope (township, school or district).")
class Statistics:
    """``scope`` is `district`, `township:<code>` or `school:<code>`."""

    scope: str
    season_code: str | None
    as_of: datetime
    total: int
    by_status: list[StatCount]
    by_township: list[StatCount]
    by_school: list[StatCount]
    by_channel: list[StatCount]
    verification: list[SourceStatistics]
    backlog: list[BacklogStatistics]
    district_code: str = strawberry.field(description="The district these counts belong to.")
    by_category: list[StatCount] = strawberry.field(
        description="By 入学类别 of the latest assessment (key null: not yet decided)."
    )
    aggregation: list[AggregationRow] = strawberry.field(
        description="The province's aggregation shape: one row per cell, naming the district."
    )

    @classmethod
    def from_core(cls, s: core.Statistics) -> Statistics:
        """Map the core's statistics."""
        return cls(
            scope=s.scope,
            season_code=s.season_code,
            as_of=s.as_of,
            total=s.total,
            by_status=StatCount.of(s.by_status),
            by_township=StatCount.of(s.by_township),
            by_school=StatCount.of(s.by_school),
            by_channel=StatCount.of(s.by_channel),
            district_code=s.district_code,
            by_category=StatCount.of(s.by_category),
            aggregation=[
                AggregationRow(
                    district_code=a.district_code,
                    township_code=a.township_code,
                    school_code=a.school_code,
                    category=a.category,
                    channel=a.channel,
                    status=a.status,
                    count=a.count,
                )
                for a in s.aggregation
            ],
            verification=[
                SourceStatistics(
                    source=v.source,
                    checks=v.checks,
                    matched=v.matched,
                    mismatched=v.mismatched,
                    undecided=v.undecided,
                    pass_rate=v.pass_rate,
                )
                for v in s.verification
            ],
            backlog=[
                BacklogStatistics(
                    status=b.status,
                    status_label=b.label,
                    count=b.count,
                    under_one_day=b.ageing[0],
                    one_to_three_days=b.ageing[1],
                    three_to_seven_days=b.ageing[2],
                    seven_days_or_more=b.ageing[3],
                    oldest_since=b.oldest_since,
                )
                for b in s.backlog
            ],
        )


StatisticsResult = Annotated[
    Statistics | InvalidInputError | ForbiddenError, strawberry.union("StatisticsResult")
]


@strawberry.type
class StatisticsQueries:
    """Counts for the back offices."""

    @strawberry.field(
        description="统计 (staff): per state, township, school, category, channel; backlog."
    )
    async def statistics(
        self, info: strawberry.Info[Context, None], season_code: str | None = None
    ) -> StatisticsResult:
        """Counts within the caller's scope, of one season if given."""
        context = info.context
        result = await core.statistics(context.runtime, context.principal, season_code=season_code)
        return Statistics.from_core(result)
