"""The public catalogue: ``seasons`` and ``schools`` (no sign-in needed)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from ruxue_core.domain.enums import Stage
from ruxue_core.services.catalog import SchoolView, SeasonView, list_schools, list_seasons
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.type(description="招生季: an enrollment season, its window and its age rule.")
class Season:
    """Children born from ``earliestBirth`` to ``ageCutoff`` (inclusive) may apply."""

    code: str
    name: str
    year: int
    stage: Stage
    opens_at: datetime
    closes_at: datetime
    age_cutoff: date
    earliest_birth: date
    open_now: bool = strawberry.field(description="Registration is open at this moment.")

    @classmethod
    def from_view(cls, view: SeasonView) -> Season:
        """Map the core's view."""
        return cls(
            code=view.code,
            name=view.name,
            year=view.year,
            stage=view.stage,
            opens_at=view.opens_at,
            closes_at=view.closes_at,
            age_cutoff=view.age_cutoff,
            earliest_birth=view.earliest_birth,
            open_now=view.open_now,
        )


@strawberry.type(description="A school and the places it offers (招生计划).")
class School:
    """``plan`` = classes × class size − reserved places."""

    code: str
    name: str
    stage: Stage
    public: bool
    township_code: str | None
    township_name: str | None
    plan: int

    @classmethod
    def from_view(cls, view: SchoolView) -> School:
        """Map the core's view."""
        return cls(
            code=view.code,
            name=view.name,
            stage=view.stage,
            public=view.public,
            township_code=view.township_code,
            township_name=view.township_name,
            plan=view.plan,
        )


@strawberry.type
class CatalogQueries:
    """Public catalogue queries."""

    @strawberry.field(description="招生季列表 (newest first; anonymous).")
    async def seasons(self, info: strawberry.Info[Context, None]) -> list[Season]:
        """Every season."""
        return [Season.from_view(v) for v in await list_seasons(info.context.runtime)]

    @strawberry.field(description="学校列表 (by code; anonymous), of one stage or township.")
    async def schools(
        self,
        info: strawberry.Info[Context, None],
        stage: Stage | None = None,
        township_code: str | None = None,
    ) -> list[School]:
        """Schools with their plans."""
        views = await list_schools(info.context.runtime, stage=stage, township_code=township_code)
        return [School.from_view(v) for v in views]
