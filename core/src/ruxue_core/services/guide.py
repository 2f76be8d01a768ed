"""Public information before applying (anonymous): a township's service guide (办事指南) and
the catchment lookup (学区查询: township → village/community → estate → zoned schools), both
from the season's policy data.

A season is chosen by code, or else the newest season whose regions include the township.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlmodel import col

from ruxue_core.domain import School, Season
from ruxue_core.errors import NotFound
from ruxue_core.policy import MaterialRule, ServiceGuide, ZoneRule
from ruxue_core.rules.assessment import find_zone
from ruxue_core.rules.fields import validate_code, validate_text
from ruxue_core.runtime import Runtime
from ruxue_core.services.private_choice import PrivateOption, options_of
from ruxue_core.uow import UnitOfWork

NOT_FOUND: Final = "该乡镇（街道）不在招生范围内"
MAX_PART: Final = 50
PROVEN_BY_DATA: Final = "共享数据核验已能证明的，无需提供"


@dataclass(frozen=True, slots=True)
class GuideMaterial:
    """A material of annex 1 and when it is needed."""

    code: str
    name: str
    when: str


@dataclass(frozen=True, slots=True)
class GuideView:
    """A township's service guide for one season."""

    season_code: str
    season_name: str
    township_code: str
    township_name: str
    opens_at: datetime
    closes_at: datetime
    promise_days: int | None
    guide: ServiceGuide
    materials: tuple[GuideMaterial, ...]
    private_schools: tuple[PrivateOption, ...] = ()
    """The private schools a guardian may choose (公民同招), drawn by lottery."""


@dataclass(frozen=True, slots=True)
class ZonedSchool:
    """A school of a catchment area, with its plan."""

    code: str
    name: str
    public: bool
    plan: int


@dataclass(frozen=True, slots=True)
class CatchmentArea:
    """One zone rule: township, village/community, estate → schools (多校划片: several)."""

    township_code: str
    village: str | None
    estate: str | None
    schools: tuple[ZonedSchool, ...]


@dataclass(frozen=True, slots=True)
class CatchmentView:
    """The area matching an address (if any), and every area of the township."""

    season_code: str
    township_code: str
    township_name: str
    matched: CatchmentArea | None
    areas: tuple[CatchmentArea, ...]


def _season(uow: UnitOfWork, township: str, season_code: str | None) -> Season:
    statement = sa.select(Season).order_by(col(Season.year).desc(), col(Season.opens_at).desc())
    if season_code is not None:
        statement = statement.where(col(Season.code) == season_code)
    for season in uow.session.scalars(statement.limit(20)):
        if township in season.policy.get("townships", {}):
            return season
    raise NotFound(NOT_FOUND, field="townshipCode")


def _codes(township_code: str, season_code: str | None) -> None:
    validate_code(township_code, field="townshipCode", message="乡镇（街道）代码格式不正确")
    if season_code is not None:
        validate_code(season_code, field="seasonCode", message="招生季代码格式不正确")


def _when(material: MaterialRule) -> str:
    if material.on_form:
        return "在线填写或窗口填写，无需另交"
    if material.always:
        return "均需提供"
    return PROVEN_BY_DATA + "；核验不能证明时提供"


async def service_guide(
    rt: Runtime, township_code: str, season_code: str | None = None
) -> GuideView:
    """The township's guide: conditions, materials, steps, time limits, places, contacts, fees.

    :raises InvalidInput: a malformed code.
    :raises NotFound: no season covers the township, or its season has no guide for it.
    """
    _codes(township_code, season_code)

    def read(uow: UnitOfWork) -> GuideView:
        season = _season(uow, township_code, season_code)
        policy = season.policy
        raw = policy.get("guide")
        if raw is None:
            raise NotFound("本招生季尚未发布办事指南", field="townshipCode")
        guide = ServiceGuide.model_validate(raw)
        if township_code not in guide.townships:
            raise NotFound("该乡镇（街道）尚未发布办事指南", field="townshipCode")
        materials = tuple(
            GuideMaterial(m.code, m.name, _when(m))
            for m in (MaterialRule.model_validate(x) for x in policy.get("materials", []))
            if not m.townships or township_code in m.townships
        )
        return GuideView(
            season_code=season.code,
            season_name=season.name,
            township_code=township_code,
            township_name=policy["townships"][township_code],
            opens_at=season.opens_at,
            closes_at=season.closes_at,
            promise_days=policy.get("case", {}).get("promise_days"),
            guide=guide,
            materials=materials,
            private_schools=options_of(uow, season),
        )

    return await rt.read(read)


def _part(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    message = f"不超过{MAX_PART}个字符，且不能含控制字符"
    return validate_text(value.strip(), field=field, max_length=MAX_PART, message=message)


async def schools_for_address(
    rt: Runtime,
    township_code: str,
    *,
    village: str | None = None,
    estate: str | None = None,
    season_code: str | None = None,
) -> CatchmentView:
    """The zoned schools of an address given as township, village/community and estate.

    :raises InvalidInput: a malformed code or part.
    :raises NotFound: no season covers the township.
    """
    _codes(township_code, season_code)
    parts = "".join(p for p in (_part(village, "village"), _part(estate, "estate")) if p)

    def read(uow: UnitOfWork) -> CatchmentView:
        season = _season(uow, township_code, season_code)
        zones = [
            zone
            for zone in (ZoneRule.model_validate(z) for z in season.policy.get("zones", []))
            if zone.township == township_code
        ]
        codes = sorted({code for zone in zones for code in zone.schools})
        rows = uow.session.scalars(sa.select(School).where(col(School.code).in_(codes))).all()
        schools = {s.code: ZonedSchool(s.code, s.name, s.public, s.plan) for s in rows}
        areas = tuple(_area(zone, schools) for zone in zones)
        matched = find_zone(zones, township_code, parts) if parts or zones else None
        return CatchmentView(
            season_code=season.code,
            township_code=township_code,
            township_name=season.policy["townships"][township_code],
            matched=_area(matched, schools) if matched is not None else None,
            areas=areas,
        )

    return await rt.read(read)


def _area(zone: ZoneRule, schools: Mapping[str, ZonedSchool]) -> CatchmentArea:
    return CatchmentArea(
        zone.township,
        zone.village,
        zone.estate,
        tuple(schools[c] for c in zone.schools if c in schools),
    )
