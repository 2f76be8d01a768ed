"""The public catalogue: seasons and schools, as anyone may see them (no sign-in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import Region, School, Season
from ruxue_core.domain.enums import Stage
from ruxue_core.rules.fields import CODE
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork

MAX_SEASONS: Final = 100
MAX_SCHOOLS: Final = 1000
"""A district has tens of schools; the bound only keeps a reply finite."""


@dataclass(frozen=True, slots=True)
class SeasonView:
    """An enrollment season's public facts: its window and its age rule."""

    code: str
    name: str
    year: int
    stage: Stage
    opens_at: datetime
    closes_at: datetime
    age_cutoff: date
    earliest_birth: date
    open_now: bool


@dataclass(frozen=True, slots=True)
class SchoolView:
    """A school's public facts: stage, township and the places it offers."""

    code: str
    name: str
    stage: Stage
    public: bool
    township_code: str | None
    township_name: str | None
    plan: int


async def list_seasons(rt: Runtime) -> list[SeasonView]:
    """Every season, newest first (by year, then code)."""

    def read(uow: UnitOfWork) -> list[SeasonView]:
        rows = uow.session.scalars(
            sa.select(Season).order_by(col(Season.year).desc(), col(Season.code)).limit(MAX_SEASONS)
        )
        return [
            SeasonView(
                code=s.code,
                name=s.name,
                year=s.year,
                stage=s.stage,
                opens_at=s.opens_at,
                closes_at=s.closes_at,
                age_cutoff=s.age_cutoff,
                earliest_birth=s.earliest_birth,
                open_now=s.opens_at <= uow.now <= s.closes_at,
            )
            for s in rows
        ]

    return await rt.read(read)


def _schools(
    stage: Stage | None, township_code: str | None
) -> sa.Select[School, str | None, str | None]:
    statement = (
        sa.select(School, col(Region.code), col(Region.name))
        .outerjoin(Region, col(Region.id) == School.township_id)
        .order_by(col(School.code))
        .limit(MAX_SCHOOLS)
    )
    if stage is not None:
        statement = statement.where(col(School.stage) == stage)
    if township_code is not None:
        statement = statement.where(col(Region.code) == township_code)
    return statement


async def list_schools(
    rt: Runtime, *, stage: Stage | None = None, township_code: str | None = None
) -> list[SchoolView]:
    """Schools, by code, optionally of one stage and one township (乡镇/街道); a township code
    of no possible shape has no schools (and never reaches the database)."""
    if township_code is not None and not CODE.fullmatch(township_code):
        return []

    def read(uow: UnitOfWork) -> list[SchoolView]:
        rows = uow.session.execute(_schools(stage, township_code)).all()
        return [
            SchoolView(
                code=school.code,
                name=school.name,
                stage=school.stage,
                public=school.public,
                township_code=code,
                township_name=name,
                plan=school.plan,
            )
            for school, code, name in rows
        ]

    return await rt.read(read)
