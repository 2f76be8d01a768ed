"""Season use cases: load (or reload) a season's policy, regions and schools."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from ruxue_core.audit import AuditEntry
from ruxue_core.domain import Region, School, Season
from ruxue_core.domain.enums import Role
from ruxue_core.permissions import require_role
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import SeasonFile
from ruxue_core.runtime import Runtime
from ruxue_core.uow import UnitOfWork


async def load_season(
    rt: Runtime,
    data: SeasonFile,
    principal: Principal | None,
    *,
    window: tuple[datetime, datetime] | None = None,
) -> Season:
    """Create or update the season, its regions and schools from a validated file.

    :param window: override the registration window (the demo opens it around now).
    :raises Forbidden: not an admin, a bureau officer or the system.
    """
    actor = require_role(principal, Role.ADMIN, Role.BUREAU_OFFICER, Role.SYSTEM)
    return await rt.write(lambda uow: _load(uow, data, actor, window))


def _load(
    uow: UnitOfWork,
    data: SeasonFile,
    actor: Principal,
    window: tuple[datetime, datetime] | None,
) -> Season:
    info = data.season
    opens_at, closes_at = window or (info.opens_at, info.closes_at)
    season = (uow.session.exec(select(Season).where(Season.code == info.code))).first()
    season = season or Season(
        code=info.code,
        name=info.name,
        year=info.year,
        stage=info.stage,
        age_cutoff=info.age_cutoff,
        earliest_birth=info.earliest,
        opens_at=opens_at,
        closes_at=closes_at,
    )
    season.sqlmodel_update(
        {
            "name": info.name,
            "year": info.year,
            "stage": info.stage,
            "age_cutoff": info.age_cutoff,
            "earliest_birth": info.earliest,
            "deferral_earliest": info.deferral_earliest,
            "early_entry_latest": info.early_entry_latest,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "policy": data.policy_json(),
        }
    )
    uow.session.add(season)
    regions: dict[str, Region] = {}
    for entry in data.regions:
        region = (uow.session.exec(select(Region).where(Region.code == entry.code))).first()
        region = region or Region(code=entry.code, name=entry.name, level=entry.level)
        parent = regions.get(entry.parent) if entry.parent else None
        region.sqlmodel_update(
            {"name": entry.name, "level": entry.level, "parent_id": parent.id if parent else None}
        )
        uow.session.add(region)
        uow.session.flush()
        regions[entry.code] = region
    for item in data.schools:
        school = (uow.session.exec(select(School).where(School.code == item.code))).first()
        school = school or School(code=item.code, name=item.name, stage=item.stage)
        township = regions.get(item.township) if item.township else None
        school.sqlmodel_update(
            {
                "name": item.name,
                "stage": item.stage,
                "public": item.public,
                "township_id": township.id if township else None,
                "classes": item.classes,
                "class_size": item.class_size,
                "reserved": item.reserved,
            }
        )
        uow.session.add(school)
    uow.session.flush()
    uow.audit(
        AuditEntry(
            actor.id,
            actor.role.value,
            "season.load",
            "season",
            info.code,
            {"regions": len(data.regions), "schools": len(data.schools)},
        )
    )
    uow.commit()
    return season
