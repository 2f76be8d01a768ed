"""Anonymous information before applying: ``serviceGuide`` (办事指南) and
``schoolsForAddress`` (学区查询)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ruxue_core.services import guide as core
from ruxue_gateway.context import Context
from ruxue_gateway.schema.errors import InvalidInputError, NotFoundError
from ruxue_gateway.schema.placement.private import PrivateSchoolOption


@strawberry.type(description="A material of annex 1 and when it is needed.")
class GuideMaterial:
    """Asked for only when shared data cannot prove the fact it stands for."""

    code: str
    name: str
    when: str


@strawberry.type(description="A step of the procedure and its time limit.")
class GuideStep:
    """办理流程 / 办理时限."""

    name: str
    description: str
    time_limit: str


@strawberry.type(description="Where to apply in person (受理地点).")
class GuidePlace:
    """Name, address and opening hours."""

    name: str
    address: str
    hours: str


@strawberry.type(description="Whom to ask (咨询电话).")
class GuideContact:
    """``assumed``: a sample value the district has not confirmed yet."""

    name: str
    phone: str
    assumed: bool


@strawberry.type(description="办事指南: a township's structured service guide for one season.")
class ServiceGuide:
    """Conditions, materials, steps, time limits, places, contacts and fees (none)."""

    season_code: str
    season_name: str
    township_code: str
    township_name: str
    conditions: list[str]
    materials: list[GuideMaterial]
    steps: list[GuideStep]
    opens_at: datetime = strawberry.field(description="Registration opens.")
    closes_at: datetime = strawberry.field(description="Registration closes.")
    promise_days: int | None = strawberry.field(description="承诺时限 in days from acceptance.")
    online: list[str] = strawberry.field(description="Where to apply online.")
    places: list[GuidePlace]
    contacts: list[GuideContact]
    notes: list[str]
    fees: str = strawberry.field(description="收费标准: 不收费 (no fee).")
    legal_basis: list[str]
    private_schools: list[PrivateSchoolOption] = strawberry.field(
        description="民办学校 a guardian may choose while registration is open (公民同招)."
    )

    @classmethod
    def from_view(cls, view: core.GuideView) -> ServiceGuide:
        """Map the core's view."""
        guide = view.guide
        township = guide.townships[view.township_code]
        return cls(
            season_code=view.season_code,
            season_name=view.season_name,
            township_code=view.township_code,
            township_name=view.township_name,
            conditions=list(guide.conditions),
            materials=[
                GuideMaterial(code=m.code, name=m.name, when=m.when) for m in view.materials
            ],
            steps=[
                GuideStep(name=s.name, description=s.description, time_limit=s.time_limit)
                for s in guide.steps
            ],
            opens_at=view.opens_at,
            closes_at=view.closes_at,
            promise_days=view.promise_days,
            online=list(guide.online),
            places=[
                GuidePlace(name=p.name, address=p.address, hours=p.hours) for p in township.places
            ],
            contacts=[
                GuideContact(name=c.name, phone=c.phone, assumed=c.assumed)
                for c in township.contacts
            ],
            notes=list(township.notes),
            fees=guide.fees,
            legal_basis=list(guide.legal_basis),
            private_schools=[PrivateSchoolOption.from_view(o) for o in view.private_schools],
        )


@strawberry.type(description="A school of a catchment area and its plan (招生计划).")
class ZonedSchool:
    """``plan`` = classes × class size − reserved places."""

    code: str
    name: str
    public: bool
    plan: int


@strawberry.type(description="A catchment area (学区): township, village/community, estate.")
class CatchmentArea:
    """Several schools: 多校划片 (the first reviews)."""

    township_code: str
    village: str | None
    estate: str | None
    schools: list[ZonedSchool]

    @classmethod
    def from_core(cls, area: core.CatchmentArea) -> CatchmentArea:
        """Map the core's area."""
        return cls(
            township_code=area.township_code,
            village=area.village,
            estate=area.estate,
            schools=[
                ZonedSchool(code=s.code, name=s.name, public=s.public, plan=s.plan)
                for s in area.schools
            ],
        )


@strawberry.type(description="学区查询: the area an address falls in, and the township's areas.")
class Catchment:
    """``matched`` is null when no area of the township covers the address."""

    season_code: str
    township_code: str
    township_name: str
    matched: CatchmentArea | None
    areas: list[CatchmentArea]


ServiceGuideResult = Annotated[
    ServiceGuide | InvalidInputError | NotFoundError, strawberry.union("ServiceGuideResult")
]
SchoolsForAddressResult = Annotated[
    Catchment | InvalidInputError | NotFoundError, strawberry.union("SchoolsForAddressResult")
]


@strawberry.type
class GuideQueries:
    """Anonymous information before applying."""

    @strawberry.field(description="办事指南 of a township (anonymous).")
    async def service_guide(
        self,
        info: strawberry.Info[Context, None],
        township_code: str,
        season_code: str | None = None,
    ) -> ServiceGuideResult:
        """The township's guide for the given (or newest) season."""
        view = await core.service_guide(info.context.runtime, township_code, season_code)
        return ServiceGuide.from_view(view)

    @strawberry.field(description="学区查询: zoned schools of an address (anonymous).")
    async def schools_for_address(
        self,
        info: strawberry.Info[Context, None],
        township_code: str,
        village: str | None = None,
        estate: str | None = None,
        season_code: str | None = None,
    ) -> SchoolsForAddressResult:
        """Township, village/community and estate → the zoned schools."""
        view = await core.schools_for_address(
            info.context.runtime,
            township_code,
            village=village,
            estate=estate,
            season_code=season_code,
        )
        return Catchment(
            season_code=view.season_code,
            township_code=view.township_code,
            township_name=view.township_name,
            matched=CatchmentArea.from_core(view.matched) if view.matched else None,
            areas=[CatchmentArea.from_core(a) for a in view.areas],
        )
